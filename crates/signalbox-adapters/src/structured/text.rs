//! Owns reading the answer's text out of an answer passed on as the
//! provider wrote it, for the gateway's structured-output check: a
//! Response object's `output_text` parts and a Responses stream's
//! `response.output_text.delta` events (a route serving `/v1/responses`),
//! an Anthropic message's `text` blocks and its stream's `text_delta`s
//! (an Anthropic client's body passed to an Anthropic route). Only the
//! text, whether the model refused or called a tool, and whether a stream
//! finished are read; the client still gets every event and field as written.

use serde::Deserialize;

/// The text a whole answer carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerText {
    /// Its text parts, in order.
    pub text: String,
    /// The model declined (a `refusal` part, Anthropic's `refusal` stop).
    pub refused: bool,
    /// The model called a tool (a `function_call` item, a `tool_use`
    /// block): the schema constrains a text answer, not a call.
    pub called_tool: bool,
    /// It holds an answer to check (a message item, a message).
    pub has_message: bool,
}

/// What one stream event says of the answer's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextEvent {
    /// More of the text.
    Text(String),
    /// The model declined.
    Refusal,
    /// The model began a tool call.
    ToolCall,
    /// The answer's end.
    Finished,
    /// Any other event, or data that is not a typed event.
    Other,
}

#[derive(Deserialize)]
struct Typed {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// Reads the text of a Response object's message items.
pub fn responses_output(body: &[u8]) -> Result<AnswerText, String> {
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
        content: Vec<Typed>,
    }
    let r: Response = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = AnswerText {
        called_tool: r.output.iter().any(|i| i.kind == "function_call"),
        ..AnswerText::default()
    };
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

/// Reads one event of a Responses stream (its data's `type` names it, as
/// its SSE `event:` does).
pub fn responses_event(data: &str) -> TextEvent {
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        delta: Option<String>,
        #[serde(default)]
        item: Option<Typed>,
    }
    let Ok(ev) = serde_json::from_str::<Event>(data) else {
        return TextEvent::Other;
    };
    match ev.kind.as_str() {
        "response.output_text.delta" => TextEvent::Text(ev.delta.unwrap_or_default()),
        "response.output_item.added"
            if ev.item.as_ref().is_some_and(|i| i.kind == "function_call") =>
        {
            TextEvent::ToolCall
        }
        "response.refusal.delta" | "response.refusal.done" => TextEvent::Refusal,
        "response.completed" | "response.incomplete" => TextEvent::Finished,
        _ => TextEvent::Other,
    }
}

/// Reads the text blocks of an Anthropic message.
pub fn anthropic_output(body: &[u8]) -> Result<AnswerText, String> {
    #[derive(Deserialize)]
    struct Message {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        content: Vec<Typed>,
        #[serde(default)]
        stop_reason: Option<String>,
    }
    let m: Message = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = AnswerText {
        has_message: m.kind == "message",
        refused: m.stop_reason.as_deref() == Some("refusal"),
        called_tool: m.content.iter().any(|b| b.kind == "tool_use"),
        ..AnswerText::default()
    };
    for block in m.content.into_iter().filter(|b| b.kind == "text") {
        out.text.push_str(block.text.as_deref().unwrap_or_default());
    }
    Ok(out)
}

/// Reads one event of an Anthropic stream.
pub fn anthropic_event(data: &str) -> TextEvent {
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        delta: Option<Delta>,
        #[serde(default)]
        content_block: Option<Typed>,
    }
    #[derive(Deserialize)]
    struct Delta {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        stop_reason: Option<String>,
    }
    let Ok(ev) = serde_json::from_str::<Event>(data) else {
        return TextEvent::Other;
    };
    match (ev.kind.as_str(), ev.delta) {
        ("content_block_delta", Some(d)) if d.kind == "text_delta" => {
            TextEvent::Text(d.text.unwrap_or_default())
        }
        ("message_delta", Some(d)) if d.stop_reason.as_deref() == Some("refusal") => {
            TextEvent::Refusal
        }
        ("content_block_start", _)
            if ev
                .content_block
                .as_ref()
                .is_some_and(|b| b.kind == "tool_use") =>
        {
            TextEvent::ToolCall
        }
        ("message_stop", _) => TextEvent::Finished,
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
        let got = responses_output(body.to_string().as_bytes()).unwrap();
        assert_eq!(got.text, "{\"n\": 1}");
        assert!(got.has_message && !got.refused);
        let refused = json!({"output": [{"type": "message",
            "content": [{"type": "refusal", "refusal": "no"}]}]});
        assert!(
            responses_output(refused.to_string().as_bytes())
                .unwrap()
                .refused
        );
        let call = responses_output(br#"{"output": [{"type": "function_call"}]}"#).unwrap();
        assert!(!call.has_message && call.called_tool);
    }

    #[test]
    fn responses_events_give_text_refusals_and_the_end() {
        let delta = json!({"type": "response.output_text.delta", "delta": "ab"}).to_string();
        assert_eq!(responses_event(&delta), TextEvent::Text("ab".into()));
        let refusal = json!({"type": "response.refusal.delta", "delta": "no"}).to_string();
        assert_eq!(responses_event(&refusal), TextEvent::Refusal);
        let done = json!({"type": "response.completed", "response": {}}).to_string();
        assert_eq!(responses_event(&done), TextEvent::Finished);
        let call = json!({"type": "response.output_item.added", "item": {"type": "function_call"}});
        assert_eq!(responses_event(&call.to_string()), TextEvent::ToolCall);
        assert_eq!(responses_event("not json"), TextEvent::Other);
    }

    #[test]
    fn an_anthropic_messages_text_is_its_text_blocks() {
        let body = json!({"type": "message", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "s"},
            {"type": "text", "text": "{\"n\": 1}"}], "stop_reason": "end_turn"});
        let got = anthropic_output(body.to_string().as_bytes()).unwrap();
        assert_eq!(got.text, "{\"n\": 1}");
        assert!(got.has_message && !got.refused);
        let refused = json!({"type": "message", "content": [], "stop_reason": "refusal"});
        assert!(
            anthropic_output(refused.to_string().as_bytes())
                .unwrap()
                .refused
        );
    }

    #[test]
    fn anthropic_events_give_text_deltas_refusals_and_the_end() {
        let delta = json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "ab"}})
        .to_string();
        assert_eq!(anthropic_event(&delta), TextEvent::Text("ab".into()));
        let json_delta = json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{"}})
        .to_string();
        assert_eq!(anthropic_event(&json_delta), TextEvent::Other);
        let refusal = json!({"type": "message_delta", "delta": {"stop_reason": "refusal"}});
        assert_eq!(anthropic_event(&refusal.to_string()), TextEvent::Refusal);
        assert_eq!(
            anthropic_event(r#"{"type": "message_stop"}"#),
            TextEvent::Finished
        );
        let call = json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}});
        assert_eq!(anthropic_event(&call.to_string()), TextEvent::ToolCall);
    }
}
