//! How a stream ends: a complete answer without `data: [DONE]` is a
//! success, a stream that stops before its finish reason is still a cut,
//! and an upstream event that never ends is cut at the provider's
//! `max-stream-event-bytes` with memory bounded.

use serde_json::{Value, json};
use signalbox_mock::Faults;
use signalbox_testkit::peers::EndlessEvent;
use signalbox_testkit::{Harness, stream_body};

use crate::header;

const BREAKER: &str = r#"
admin:
  token: { env: ADMIN_TOKEN }
resilience:
  health-check: { mode: off }
  breaker: { consecutive-failures: 3, min-requests: 1, open-for: 60s, slow-start: 0s }
providers:
  - name: primary
    kind: openai-compatible
    base-url: ${PRIMARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
  - name: secondary
    kind: openai-compatible
    base-url: ${SECONDARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
routes:
  - { id: primary, provider: primary, model: m, region: us }
  - { id: secondary, provider: secondary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary, secondary] }
"#;

async fn harness() -> Harness {
    Harness::start(
        BREAKER,
        &["primary", "secondary"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await
}

async fn primary_health(h: &Harness) -> Value {
    let v: Value = h
        .client
        .get(h.url("/admin/routes"))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "primary")
        .unwrap()["health"]
        .clone()
}

/// Sends a streamed request and returns the serving route and the body.
async fn stream(h: &Harness, id: &str, usage: bool) -> (String, String) {
    let mut body = stream_body("chat", "one two three");
    if usage {
        body["stream_options"] = json!({ "include_usage": true });
    }
    let resp = h.chat_with(&body, &[("x-request-id", id)]).await;
    assert_eq!(resp.status(), 200);
    let route = header(&resp, "x-signalbox-route").to_string();
    (route, resp.text().await.unwrap())
}

#[tokio::test]
async fn complete_streams_without_done_are_successes_and_keep_the_breaker_closed() {
    let h = harness().await;
    h.mock("primary").set_faults(Faults {
        omit_done: true,
        ..Faults::default()
    });
    for i in 0..6 {
        let id = format!("no-done-{i}");
        let (route, text) = stream(&h, &id, i % 2 == 0).await;
        assert_eq!(route, "primary", "request {i}");
        assert!(!text.contains("stream_interrupted"), "request {i}: {text}");
        // The caller still gets the end marker the upstream left out.
        assert!(text.ends_with("data: [DONE]\n\n"), "request {i}: {text}");
    }
    let stats = h.mock("primary").stats();
    assert_eq!(stats.streams_completed, 6);
    assert_eq!(h.mock("secondary").stats().requests, 0);
    let health = primary_health(&h).await;
    assert_eq!(health["state"], "closed", "{health}");

    let rec = h.record("no-done-4").await;
    assert_eq!((rec.status, rec.error.as_deref()), (200, None), "{rec:?}");
    let usage = rec.usage.expect("usage recorded");
    assert!(usage.completion_tokens > 0, "{usage:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_stream_that_ends_before_its_finish_reason_is_still_interrupted() {
    let h = harness().await;
    // Two events (role, first content), then a clean end of body: no
    // finish reason, no marker.
    h.mock("primary").set_faults(Faults {
        end_stream_after: Some(2),
        ..Faults::default()
    });
    let (route, text) = stream(&h, "cut", false).await;
    assert_eq!(route, "primary");
    assert!(text.contains("stream_interrupted"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    assert_eq!(h.mock("primary").stats().streams_cut, 1);
    h.stop().await;
}

/// An OpenAI-compatible provider on the endless-event peer, then the mock.
const ENDLESS: &str = r#"
providers:
  - name: endless
    kind: openai-compatible
    base-url: ${ENDLESS_URL}
    timeouts: { connect: 500ms, first-byte: 5s, total: 20s }
    max-stream-event-bytes: ${CAP:-8388608}
  - name: secondary
    kind: openai-compatible
    base-url: ${SECONDARY_URL}
routes:
  - { id: endless, provider: endless, model: m, region: us }
  - { id: secondary, provider: secondary, model: m, region: us }
aliases:
  - { name: chat, routes: [endless, secondary] }
  - { name: solo, routes: [endless] }
"#;

/// More than the peer could ever be allowed to send.
const PEER_LIMIT: u64 = 256 * 1024 * 1024;

async fn endless_harness(peer: &EndlessEvent) -> Harness {
    Harness::start(ENDLESS, &["secondary"], &[("ENDLESS_URL", peer.base_url())]).await
}

#[tokio::test]
async fn an_endless_first_event_fails_over_at_the_cap() {
    let peer = EndlessEvent::start(b"", PEER_LIMIT).await;
    let h = endless_harness(&peer).await;
    let resp = h
        .chat_with(&stream_body("chat", "hi"), &[("x-request-id", "endless-1")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary");
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(peer.requests(), 1);
    assert!(
        signalbox_testkit::eventually(std::time::Duration::from_secs(5), || peer
            .closed_by_client())
        .await,
        "the gateway kept reading: {} bytes",
        peer.written()
    );
    assert!(peer.written() < 64 * 1024 * 1024, "{}", peer.written());
    let rec = h.record("endless-1").await;
    let first = &rec.attempts[0];
    assert_eq!(first.outcome.label(), "bad_response", "{first:?}");
    assert!(
        first.detail.contains("larger than 8388608 bytes"),
        "{first:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_endless_event_after_commit_ends_the_stream_with_the_error_event() {
    const ROLE: &[u8] = b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
    let peer = EndlessEvent::start(ROLE, PEER_LIMIT).await;
    let h = endless_harness(&peer).await;
    let resp = h
        .chat_with(&stream_body("solo", "hi"), &[("x-request-id", "endless-2")])
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let last = text.lines().rfind(|l| l.starts_with("data: ")).unwrap();
    let err: Value = serde_json::from_str(&last[6..]).unwrap();
    assert_eq!(err["error"]["code"], "stream_interrupted", "{text}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("larger than 8388608 bytes"), "{message}");
    assert!(
        text.len() < 4096,
        "the long event was not forwarded: {}",
        text.len()
    );
    assert!(
        signalbox_testkit::eventually(std::time::Duration::from_secs(5), || peer
            .closed_by_client())
        .await
    );
    let rec = h.record("endless-2").await;
    assert!(
        rec.error.as_deref().unwrap_or("").contains("larger than"),
        "{rec:?}"
    );
    h.stop().await;
}

/// An upstream that answers 200 and then reports an error as its first
/// event (as vLLM and OpenAI do when a request fails after the headers):
/// nothing has reached the caller, so it is a failure like a 5xx and the
/// next route serves; a rejection is passed back, not retried.
#[tokio::test]
async fn an_error_as_the_first_event_fails_over_before_commit() {
    const SERVER_ERROR: &[u8] = b"data: {\"error\":{\"message\":\"engine died\",\"type\":\"InternalServerError\",\"code\":500}}\n\n";
    let peer = EndlessEvent::start(SERVER_ERROR, 1024).await;
    let h = endless_harness(&peer).await;
    let resp = h
        .chat_with(
            &stream_body("chat", "hi"),
            &[("x-request-id", "error-first-1")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("engine died"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let rec = h.record("error-first-1").await;
    assert_eq!(rec.attempts[0].outcome.label(), "server_error", "{rec:?}");
    h.stop().await;

    const REJECTED: &[u8] = b"data: {\"error\":{\"message\":\"too long\",\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}\n\n";
    let peer = EndlessEvent::start(REJECTED, 1024).await;
    let h = endless_harness(&peer).await;
    let resp = h.chat_with(&stream_body("chat", "hi"), &[]).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded", "{body}");
    assert_eq!(
        h.mock("secondary").stats().requests,
        0,
        "a rejection is not retried"
    );
    h.stop().await;
}
