//! Unit tests of the OpenAI wire format.

use http::StatusCode;
use serde_json::{Value, json};

use super::{OpenAi, OpenAiRequest};
use crate::mock::Answer;
use crate::mock::{MockWire, Parsed};

fn parse(body: Value) -> Parsed<OpenAiRequest> {
    OpenAi.parse(body.to_string().as_bytes()).unwrap()
}

#[test]
fn parses_string_and_part_contents() {
    let parsed = parse(json!({
        "model": "m",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "hello there"},
                {"type": "image_url", "image_url": {"url": "x y z"}},
                {"type": "text", "text": "world"}
            ]},
            {"role": "assistant", "content": null}
        ]
    }));
    assert!(parsed.stream);
    assert!(parsed.request.include_usage);
    assert_eq!(parsed.prompt.words, 5);
    assert_eq!(parsed.prompt.messages, 3);
    assert_eq!(parsed.prompt.last_user_text, "hello there world");
    assert_eq!(parsed.prompt.first_tool, None);
}

#[test]
fn rejects_wrong_shapes() {
    for body in [
        &b"not json"[..],
        br#"{"model":"m"}"#,
        br#"{"model":1,"messages":[]}"#,
        br#"{"model":"m","messages":"hi"}"#,
    ] {
        assert!(OpenAi.parse(body).is_err());
    }
    let error: Value =
        serde_json::from_slice(&OpenAi.error_body(StatusCode::BAD_REQUEST, "bad")).unwrap();
    assert_eq!(
        error,
        json!({"error": {"message": "bad", "type": "invalid_request_error", "code": null, "param": null}})
    );
}

#[test]
fn renders_tool_call_events() {
    let parsed = parse(json!({
        "model": "m",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    }));
    let answer = Answer::to(parsed.prompt, "x");
    let events = OpenAi
        .render_events(&parsed.request, &answer, 3, 5)
        .unwrap();
    assert_eq!(events.len(), 4);
    let call: Value = serde_json::from_slice(&events[1][6..]).unwrap();
    assert_eq!(
        call["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(call["id"], "chatcmpl-mock-3");
    let finish: Value = serde_json::from_slice(&events[2][6..]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
}
