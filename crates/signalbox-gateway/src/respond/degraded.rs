//! No silent degradation: marks an answer served by a degraded path with a
//! `signalbox` object naming the steps — in the JSON body, or in the first
//! event of a stream — next to the `x-signalbox-degraded` header.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use signalbox_config::DegradeStep;

fn marker(steps: &[DegradeStep], request_id: &str) -> Value {
    let steps: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
    json!({ "degraded": steps, "request_id": request_id })
}

/// Adds `"signalbox": {"degraded": [...], "request_id"}` to a chat
/// completion; a body that is not a JSON object is returned unchanged.
pub fn mark_json(body: Bytes, steps: &[DegradeStep], request_id: &str) -> Bytes {
    let Ok(mut obj) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return body;
    };
    obj.insert("signalbox".into(), marker(steps, request_id));
    serde_json::to_vec(&obj).map_or(body, Bytes::from)
}

/// Adds the marker to the first `data:` event carrying a JSON object.
pub fn mark_first_event(events: Bytes, steps: &[DegradeStep], request_id: &str) -> Bytes {
    mark_event(events, &marker(steps, request_id), Which::First).unwrap_or_else(|same| same)
}

/// Which JSON event of some bytes a mark goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    First,
    Last,
}

/// `events` with `mark` as the `signalbox` field of its first or last JSON
/// object event; `Err(events)` unchanged when there is none.
pub fn mark_event(events: Bytes, mark: &Value, which: Which) -> Result<Bytes, Bytes> {
    let Ok(text) = std::str::from_utf8(&events) else {
        return Err(events);
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_object = |line: &str| {
        line.strip_prefix("data:")
            .and_then(|d| serde_json::from_str::<Map<String, Value>>(d.trim()).ok())
    };
    let target = match which {
        Which::First => lines.iter().position(|l| is_object(l).is_some()),
        Which::Last => lines.iter().rposition(|l| is_object(l).is_some()),
    };
    let Some(at) = target else {
        return Err(events);
    };
    let mut out = String::with_capacity(text.len() + 128);
    for (i, line) in lines.iter().enumerate() {
        match is_object(line).filter(|_| i == at) {
            Some(mut obj) => {
                obj.insert("signalbox".into(), mark.clone());
                out.push_str("data: ");
                out.push_str(&Value::Object(obj).to_string());
                out.push('\n');
            }
            None => out.push_str(line),
        }
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_gets_the_marker() {
        let b = mark_json(
            Bytes::from_static(br#"{"id":"x","choices":[]}"#),
            &[DegradeStep::FallbackRoute],
            "r1",
        );
        let v: Value = serde_json::from_slice(&b).unwrap_or_default();
        assert_eq!(v["signalbox"]["degraded"][0], "fallback-route");
        assert_eq!(v["signalbox"]["request_id"], "r1");
        assert_eq!(v["id"], "x");
    }

    #[test]
    fn first_stream_event_gets_the_marker_and_framing_is_kept() {
        let ev = Bytes::from_static(b": keepalive\n\ndata: {\"id\":\"c\",\"choices\":[]}\n\n");
        let out = mark_first_event(
            ev,
            &[DegradeStep::FallbackRoute, DegradeStep::ToolsDisabled],
            "r2",
        );
        let text = std::str::from_utf8(&out).unwrap_or_default();
        assert!(text.starts_with(": keepalive\n\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"), "{text}");
        assert!(
            text.contains(r#""degraded":["fallback-route","tools-disabled"]"#),
            "{text}"
        );
    }

    #[test]
    fn non_json_is_left_alone() {
        let b = Bytes::from_static(b"data: [DONE]\n\n");
        assert_eq!(
            mark_first_event(b.clone(), &[DegradeStep::SmallerModel], "r"),
            b
        );
        assert_eq!(
            mark_json(
                Bytes::from_static(b"[1]"),
                &[DegradeStep::SmallerModel],
                "r"
            ),
            Bytes::from_static(b"[1]")
        );
    }
}
