//! Unit tests of the Anthropic wire format.

use http::StatusCode;
use serde_json::{Value, json};

use super::{Anthropic, AnthropicRequest};
use crate::mock::{Answer, AnswerBody};
use crate::mock::{MockWire, Parsed};

fn parse(body: Value) -> Parsed<AnthropicRequest> {
    Anthropic.parse(body.to_string().as_bytes()).unwrap()
}

#[test]
fn counts_system_and_skips_tool_results_for_the_echo() {
    let parsed = parse(json!({
        "model": "claude", "max_tokens": 10, "stream": true,
        "system": "be brief",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "sunny and warm"}]}
        ],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]
    }));
    assert!(parsed.stream);
    assert_eq!(parsed.prompt.messages, 4);
    assert_eq!(parsed.prompt.words, 2 + 3 + 3);
    assert_eq!(parsed.prompt.last_user_text, "weather in Paris?");
    assert_eq!(parsed.prompt.first_tool.as_deref(), Some("get_weather"));
}

#[test]
fn requires_max_tokens_and_renders_errors() {
    let missing = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    assert!(Anthropic.parse(missing.to_string().as_bytes()).is_err());
    let error: Value =
        serde_json::from_slice(&Anthropic.error_body(StatusCode::TOO_MANY_REQUESTS, "slow"))
            .unwrap();
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})
    );
}

#[test]
fn streams_tool_arguments_as_partial_json() {
    let parsed = parse(json!({
        "model": "claude", "max_tokens": 10,
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"name": "get_weather", "input_schema": {}}]
    }));
    let answer = Answer::to(parsed.prompt, "x");
    assert!(matches!(answer.body, AnswerBody::ToolCall { .. }));
    let events = Anthropic
        .render_events(&parsed.request, &answer, 1, 3)
        .unwrap();
    let text: String = events
        .iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    let partial: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["delta"]["partial_json"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(partial, r#"{"location":"Paris"}"#);
    assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}
