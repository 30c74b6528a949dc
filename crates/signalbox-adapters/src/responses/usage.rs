//! Owns reading a Responses answer passed through as the provider wrote it
//! (a route serving `/v1/responses` natively): checking that a JSON answer
//! is a Response object and reading its usage, and reading the typed
//! events of its stream — which event ends the answer, which one reports
//! a failure, and the usage `response.completed` carries. Nothing is
//! translated; only these fields are read, so the client gets every other
//! field (reasoning items, built-in tool output, annotations) as written.

use serde::Deserialize;
use signalbox_core::Usage;

/// The Responses API's usage object.
#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
        }
    }
}

/// A Response object's error (`status: failed`), or an `error` event's.
#[derive(Deserialize, Default)]
struct WireError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl WireError {
    fn pair(self) -> (String, String) {
        (
            self.code.unwrap_or_else(|| "response_failed".into()),
            self.message.unwrap_or_default(),
        )
    }
}

/// What a whole Response object says, read without its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseSummary {
    /// Its usage, when reported.
    pub usage: Option<Usage>,
    /// `status: failed`: the provider's code and message.
    pub failed: Option<(String, String)>,
}

/// Checks that a non-streamed answer is a Response object (`object:
/// "response"` with an `output` list) and reads its usage and status.
pub fn read_response(body: &[u8]) -> Result<ResponseSummary, String> {
    #[derive(Deserialize)]
    struct Response {
        object: String,
        #[serde(rename = "output")]
        _output: Vec<serde::de::IgnoredAny>,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        error: Option<WireError>,
        #[serde(default)]
        usage: Option<WireUsage>,
    }
    let r: Response = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if r.object != "response" {
        return Err(format!("`object` is {:?}, not \"response\"", r.object));
    }
    let failed =
        (r.status.as_deref() == Some("failed")).then(|| r.error.unwrap_or_default().pair());
    Ok(ResponseSummary {
        usage: r.usage.map(Usage::from),
        failed,
    })
}

/// What one event of a Responses stream says about the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `response.completed` or `response.incomplete`: the answer's end.
    Finished,
    /// `response.failed` or `error`: the provider reports a failure.
    Failed,
    /// Any other event (created, deltas, items, …).
    Other,
}

/// The end and failure events (their `type`, also their SSE `event:` name).
const FINISHED: [&str; 2] = ["response.completed", "response.incomplete"];
const FAILED: [&str; 2] = ["response.failed", "error"];

/// The kind of one event: by its SSE `event:` name when it has one (as
/// OpenAI and Azure write them), else by its data's `type` (read only
/// when the data names an end or a failure, so deltas are not parsed).
pub fn event_kind(name: Option<&str>, data: &str) -> EventKind {
    let kind_of = |t: &str| {
        if FINISHED.contains(&t) {
            EventKind::Finished
        } else if FAILED.contains(&t) {
            EventKind::Failed
        } else {
            EventKind::Other
        }
    };
    if let Some(name) = name {
        return kind_of(name);
    }
    let mentions = FINISHED
        .iter()
        .chain(&FAILED[..1])
        .any(|t| data.contains(t))
        || data.contains("\"error\"");
    if !mentions {
        return EventKind::Other;
    }
    #[derive(Deserialize)]
    struct Typed {
        #[serde(rename = "type", default)]
        kind: String,
    }
    serde_json::from_str::<Typed>(data).map_or(EventKind::Other, |t| kind_of(&t.kind))
}

/// The `(code, message)` of a failure event: `error` (top-level `code`
/// and `message`) or `response.failed` (the response's `error`).
pub fn failure_of(data: &str) -> (String, String) {
    #[derive(Deserialize)]
    struct Event {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        response: Option<Failed>,
    }
    #[derive(Deserialize)]
    struct Failed {
        #[serde(default)]
        error: Option<WireError>,
    }
    match serde_json::from_str::<Event>(data) {
        Ok(Event {
            response: Some(Failed { error: Some(e) }),
            ..
        }) => e.pair(),
        Ok(Event { code, message, .. }) => WireError { code, message }.pair(),
        Err(_) => ("response_failed".into(), String::new()),
    }
}

/// The usage an end event (`response.completed` / `response.incomplete`)
/// reports in its response.
pub fn usage_of_event(data: &str) -> Option<Usage> {
    #[derive(Deserialize)]
    struct Event {
        response: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        usage: Option<WireUsage>,
    }
    if !data.contains("\"usage\"") {
        return None;
    }
    let ev: Event = serde_json::from_str(data).ok()?;
    ev.response.usage.map(Usage::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_object_is_read_for_its_usage_and_status() {
        let ok = r#"{"object":"response","status":"completed","output":[{"type":"reasoning"}],
            "usage":{"input_tokens":7,"output_tokens":3,"total_tokens":10}}"#;
        let s = read_response(ok.as_bytes()).unwrap();
        assert_eq!(
            s.usage,
            Some(Usage {
                prompt_tokens: 7,
                completion_tokens: 3
            })
        );
        assert_eq!(s.failed, None);
        let failed = r#"{"object":"response","status":"failed","output":[],
            "error":{"code":"server_error","message":"boom"}}"#;
        let s = read_response(failed.as_bytes()).unwrap();
        assert_eq!(s.failed, Some(("server_error".into(), "boom".into())));
        for bad in [
            r#"{"object":"chat.completion","output":[]}"#,
            r#"{"object":"response"}"#,
            "[1]",
            "{not json",
        ] {
            assert!(read_response(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_told_apart_by_name_or_by_type() {
        assert_eq!(
            event_kind(Some("response.completed"), "{}"),
            EventKind::Finished
        );
        assert_eq!(
            event_kind(Some("response.output_text.delta"), "{}"),
            EventKind::Other
        );
        assert_eq!(event_kind(Some("error"), "{}"), EventKind::Failed);
        let done = r#"{"type": "response.incomplete", "response": {}}"#;
        assert_eq!(event_kind(None, done), EventKind::Finished);
        let failed =
            r#"{"type":"response.failed","response":{"error":{"code":"c","message":"m"}}}"#;
        assert_eq!(event_kind(None, failed), EventKind::Failed);
        assert_eq!(failure_of(failed), ("c".into(), "m".into()));
        let error = r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down"}"#;
        assert_eq!(event_kind(None, error), EventKind::Failed);
        assert_eq!(
            failure_of(error),
            ("rate_limit_exceeded".into(), "slow down".into())
        );
        // A delta whose text mentions an end event is not one.
        let delta = r#"{"type":"response.output_text.delta","delta":"response.completed"}"#;
        assert_eq!(event_kind(None, delta), EventKind::Other);
    }

    #[test]
    fn the_end_event_carries_the_usage() {
        let done = r#"{"type":"response.completed","response":{"usage":{"input_tokens":2,"output_tokens":5}}}"#;
        assert_eq!(
            usage_of_event(done),
            Some(Usage {
                prompt_tokens: 2,
                completion_tokens: 5
            })
        );
        assert_eq!(
            usage_of_event(r#"{"type":"response.created","response":{"usage":null}}"#),
            None
        );
    }
}
