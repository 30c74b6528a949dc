//! Unit tests of the Gemini wire format.

use http::{StatusCode, Uri};
use serde_json::{Value, json};

use super::Gemini;
use crate::mock::Answer;
use crate::mock::MockWire;

#[test]
fn reads_model_and_streaming_from_the_path() {
    let body = json!({
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "contents": [{"role": "user", "parts": [{"text": "hello there"}]}]
    })
    .to_string();
    let uri: Uri = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        .parse()
        .unwrap();
    let parsed = Gemini.parse_request(&uri, body.as_bytes()).unwrap();
    assert!(parsed.stream);
    assert_eq!(parsed.request.model, "gemini-2.0-flash");
    assert_eq!((parsed.prompt.messages, parsed.prompt.words), (2, 4));
    let plain: Uri = "/v1beta/models/g:generateContent".parse().unwrap();
    assert!(
        !Gemini
            .parse_request(&plain, body.as_bytes())
            .unwrap()
            .stream
    );
    let bad: Uri = "/v1beta/models/g:embed".parse().unwrap();
    assert!(Gemini.parse_request(&bad, body.as_bytes()).is_err());
}

#[test]
fn last_stream_event_finishes_with_usage() {
    let uri: Uri = "/v1beta/models/g:streamGenerateContent?alt=sse"
        .parse()
        .unwrap();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string();
    let parsed = Gemini.parse_request(&uri, body.as_bytes()).unwrap();
    let answer = Answer::to(parsed.prompt, "g");
    let events = Gemini
        .render_events(&parsed.request, &answer, 2, 3)
        .unwrap();
    assert_eq!(events.len(), 3);
    let last: Value = serde_json::from_slice(&events[2][6..]).unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        last["usageMetadata"]["promptTokenCount"],
        answer.prompt_tokens
    );
    let first: Value = serde_json::from_slice(&events[0][6..]).unwrap();
    assert!(first.get("usageMetadata").is_none());
    let error: Value =
        serde_json::from_slice(&Gemini.error_body(StatusCode::TOO_MANY_REQUESTS, "x")).unwrap();
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");
}
