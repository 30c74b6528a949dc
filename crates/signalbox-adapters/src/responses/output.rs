//! Owns reading the answer's text out of a Responses answer passed
//! through as the provider wrote it: a Response object's `output_text`
//! parts, and a stream's `response.output_text.delta` events. Only what
//! the gateway's structured-output check needs (the text, whether the
//! model refused, whether the stream finished) is read; the client still
//! gets every event and field as written.

use serde::Deserialize;

/// The text a whole Response object answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputText {
    /// Every `output_text` part of its message items, in order.
    pub text: String,
    /// A message item holds a `refusal` part (the model declined).
    pub refused: bool,
    /// It holds at least one message item (text or refusal).
    pub has_message: bool,
}

/// Reads the text of a Response object's message items.
pub fn output_text(body: &[u8]) -> Result<OutputText, String> {
    #[derive(Deserialize)]
    struct Response {
        #[serde(default)]
        output: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        content: Vec<Part>,
    }
    #[derive(Deserialize)]
    struct Part {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        text: Option<String>,
    }
    let r: Response = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = OutputText::default();
    for item in r.output.into_iter().filter(|i| i.kind == "message") {
        out.has_message = true;
        for part in item.content {
            match part.kind.as_str() {
                "output_text" => out.text.push_str(part.text.as_deref().unwrap_or_default()),
                "refusal" => out.refused = true,
                _ => {}
            }
        }
    }
    Ok(out)
}

/// What one event of a Responses stream says of the answer's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextEvent {
    /// `response.output_text.delta`: more of the text.
    Text(String),
    /// `response.refusal.delta` or `.done`: the model declined.
    Refusal,
    /// `response.completed` or `response.incomplete`: the answer's end.
    Finished,
    /// Any other event, or data that is not a typed event.
    Other,
}

/// Reads one event's data (its `type` names it, as its SSE `event:` does).
pub fn text_event(data: &str) -> TextEvent {
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        delta: Option<String>,
    }
    let Ok(ev) = serde_json::from_str::<Event>(data) else {
        return TextEvent::Other;
    };
    match ev.kind.as_str() {
        "response.output_text.delta" => TextEvent::Text(ev.delta.unwrap_or_default()),
        "response.refusal.delta" | "response.refusal.done" => TextEvent::Refusal,
        "response.completed" | "response.incomplete" => TextEvent::Finished,
        _ => TextEvent::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_response_objects_text_is_its_message_parts_and_a_refusal_is_named() {
        let body = json!({"object": "response", "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [
                {"type": "output_text", "text": "{\"n\""},
                {"type": "output_text", "text": ": 1}"}]}]});
        let got = output_text(body.to_string().as_bytes()).unwrap();
        assert_eq!(got.text, "{\"n\": 1}");
        assert!(got.has_message && !got.refused);
        let refused = json!({"output": [{"type": "message",
            "content": [{"type": "refusal", "refusal": "no"}]}]});
        assert!(output_text(refused.to_string().as_bytes()).unwrap().refused);
        let none = output_text(br#"{"output": [{"type": "function_call"}]}"#).unwrap();
        assert!(!none.has_message);
    }

    #[test]
    fn stream_events_give_text_refusals_and_the_end() {
        let delta = json!({"type": "response.output_text.delta", "delta": "ab"}).to_string();
        assert_eq!(text_event(&delta), TextEvent::Text("ab".into()));
        let refusal = json!({"type": "response.refusal.delta", "delta": "no"}).to_string();
        assert_eq!(text_event(&refusal), TextEvent::Refusal);
        let done = json!({"type": "response.completed", "response": {}}).to_string();
        assert_eq!(text_event(&done), TextEvent::Finished);
        assert_eq!(text_event("not json"), TextEvent::Other);
    }
}
