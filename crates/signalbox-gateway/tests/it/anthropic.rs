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
    // Marked in the body the client reads, not only in the header.
    assert_eq!(v["signalbox"]["degraded"], json!(["fallback-route"]), "{v}");
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

/// A degraded stream is marked in its first event (`message_start`), as an
/// OpenAI client's first chunk is; the events are encoded once from the
/// OpenAI-compatible provider's chunks.
#[tokio::test]
async fn a_degraded_stream_is_marked_in_its_message_start() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h.messages(&message(true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let text = resp.text().await.unwrap();
    let start: Value = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .next()
        .unwrap_or_default();
    assert_eq!(start["type"], "message_start", "{text}");
    assert_eq!(
        start["signalbox"]["degraded"],
        json!(["fallback-route"]),
        "{text}"
    );
    assert!(
        text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
    h.stop().await;
}

/// Checks an Anthropic-shaped error carrying the request id (body and
/// header) and returns its body.
async fn anthropic_error(resp: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(resp.status(), status);
    let id = header(&resp, "x-request-id").to_string();
    assert!(!id.is_empty(), "no x-request-id");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert_eq!(v["request_id"], id.as_str(), "{v}");
    v
}

#[tokio::test]
async fn every_messages_error_is_anthropic_shaped_with_a_request_id() {
    let h = signalbox_testkit::Harness::start(
        &crate::TWO_ROUTES.replace("${MAX_BODY:-65536}", "1024"),
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "k".into())],
    )
    .await;
    let post = |path: &str| {
        h.client
            .post(h.url(path))
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
    };
    // Over the body limit.
    let big = post("/v1/messages")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    anthropic_error(big, 413, "request_too_large").await;
    // Not JSON; the caller's id is kept.
    let bad = post("/v1/messages")
        .header("x-request-id", "bad-json-1")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    let v = anthropic_error(bad, 400, "invalid_request_error").await;
    assert_eq!(v["request_id"], "bad-json-1");
    // Unknown paths and methods under /v1/messages.
    let unknown = post("/v1/messages/batches")
        .body("{}")
        .send()
        .await
        .unwrap();
    anthropic_error(unknown, 404, "not_found_error").await;
    let get = h.client.get(h.url("/v1/messages")).send().await.unwrap();
    anthropic_error(get, 404, "not_found_error").await;
    // A refusal from the pipeline (unknown model).
    let mut body = message(false);
    body["model"] = json!("no-such-model");
    let refused = post("/v1/messages").json(&body).send().await.unwrap();
    anthropic_error(refused, 404, "not_found_error").await;
    // Other paths keep the OpenAI shape.
    let (status, text) = h.get("/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(text.contains("\"unknown_url\""), "{text}");
    h.stop().await;
}
