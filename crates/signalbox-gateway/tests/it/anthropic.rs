//! Anthropic-format ingress: a client written for `POST /v1/messages` is
//! routed by the same policy to an OpenAI-compatible provider, and gets
//! Anthropic-shaped answers, streams and errors back.

use serde_json::{Value, json};
use signalbox_mock::Faults;

use crate::{header, two_routes};

fn message(stream: bool) -> Value {
    json!({
        "model": "chat",
        "max_tokens": 64,
        "system": "be brief",
        "stream": stream,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    })
}

#[tokio::test]
async fn messages_are_served_in_anthropic_shape_through_the_policy() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h.messages(&message(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["content"][0]["text"], "[secondary] echo: hello");
    assert_eq!(v["stop_reason"], "end_turn");
    // The provider got an OpenAI body with the system prompt as a message.
    let sent = h.mock("secondary").stats().last_request.unwrap();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][0]["content"], "be brief");
    h.stop().await;
}

#[tokio::test]
async fn streams_become_anthropic_events() {
    let h = two_routes().await;
    let resp = h.messages(&message(true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for event in [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "message_delta",
        "message_stop",
    ] {
        assert!(
            text.contains(&format!("event: {event}")),
            "{event} missing:\n{text}"
        );
    }
    let mut said = String::new();
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data: ")
            && let Ok(v) = serde_json::from_str::<Value>(data)
            && v["type"] == "content_block_delta"
        {
            said.push_str(v["delta"]["text"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(said, "[primary] echo: hello");
    h.stop().await;
}

#[tokio::test]
async fn errors_use_the_anthropic_shape() {
    let h = two_routes().await;
    let mut body = message(false);
    body["model"] = json!("no-such-model");
    let resp = h.messages(&body).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "not_found_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );

    let resp = h.messages(&json!({"model": "chat", "messages": []})).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    h.stop().await;
}
