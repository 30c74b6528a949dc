//! Anthropic→Anthropic without loss: a `/v1/messages` body bound for an
//! Anthropic route reaches it JSON-equal to what the client sent (model
//! aside; `max_tokens` only where `max-output: clamp` lowers it), with its
//! `anthropic-beta` header, and the answer (JSON or SSE) comes back as the
//! provider wrote it, with the gateway's own markers added. A request a
//! privacy boundary rewrote is translated instead, never forwarded as sent;
//! what only Anthropic can carry is refused on other routes, by field.

use serde_json::{Value, json};
use signalbox_mock::{Faults, MockFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::header;
use crate::translation::{native, record, sse_json, start};

const BETA: &str = "prompt-caching-2024-07-31,output-128k-2025-02-19";

/// Everything the translating path used to lose.
fn rich(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 2048,
        "stream": stream,
        "top_k": 7,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "output_config": {"effort": "medium"},
        "metadata": {"user_id": "u-1"},
        "x_future_field": {"kept": [1, 2, 3]},
        "system": [{"type": "text", "text": "You summarise documents.",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": [
            {"type": "document", "title": "notes",
             "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
             "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Summarise the document."}
        ]}]
    })
}

async fn send(h: &signalbox_testkit::Harness, body: &Value, id: &str) -> reqwest::Response {
    h.client
        .post(h.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", BETA)
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The body as the client sent it, with the route's upstream model.
fn as_sent_upstream(mut body: Value, model: &str) -> Value {
    body["model"] = json!(model);
    body
}

#[tokio::test]
async fn the_clients_body_reaches_an_anthropic_route_unchanged_but_for_the_model() {
    let h = native().await;
    let body = rich("claude", false);
    let resp = send(&h, &body, "native-1").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    let answer: Value = resp.json().await.unwrap();
    let stats = h.mock("claude").stats();
    assert_eq!(
        stats.last_request.unwrap(),
        as_sent_upstream(body, "claude-test")
    );
    assert_eq!(stats.last_headers["anthropic-beta"], BETA);
    assert_eq!(stats.last_headers["anthropic-version"], "2023-06-01");
    // The provider's answer as it wrote it: the signed thinking block the
    // client must send back next turn is there.
    assert_eq!(answer["content"][0]["type"], "thinking", "{answer}");
    assert_eq!(answer["content"][0]["signature"], "mock-signature");
    assert_eq!(answer["content"][1]["type"], "text");
    assert_eq!(answer["id"], "msg_mock_1");
    // Usage still reaches the record.
    let rec = record(&h, "native-1").await;
    let usage = rec.usage.expect("usage recorded");
    assert!(usage.completion_tokens > 0, "{usage:?}");
    assert!(rec.translation.is_empty(), "{:?}", rec.translation);
    h.stop().await;
}

#[tokio::test]
async fn the_stream_is_passed_on_event_by_event_and_its_end_is_seen() {
    let h = native().await;
    let body = rich("claude", true);
    let resp = send(&h, &body, "native-2").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    let text = resp.text().await.unwrap();
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(sent, as_sent_upstream(body, "claude-test"));
    let events = sse_json(&text);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"), "{text}");
    assert_eq!(kinds.last(), Some(&"message_stop"), "{text}");
    assert!(kinds.contains(&"ping"), "passed on as sent: {text}");
    let deltas: Vec<&Value> = events.iter().map(|e| &e["delta"]).collect();
    assert!(
        deltas.iter().any(|d| d["type"] == "thinking_delta"),
        "{text}"
    );
    assert!(
        deltas.iter().any(|d| d["signature"] == "mock-signature"),
        "{text}"
    );
    assert!(
        !text.contains("[DONE]") && !text.contains("chat.completion"),
        "{text}"
    );
    let rec = record(&h, "native-2").await;
    assert_eq!(rec.status, 200);
    let usage = rec.usage.expect("usage read from the events");
    assert!(
        usage.prompt_tokens > 0 && usage.completion_tokens > 0,
        "{usage:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_stream_cut_after_commit_ends_with_an_anthropic_error_event() {
    let h = native().await;
    h.mock("claude").set_faults(Faults {
        cut_stream_after: Some(2),
        ..Faults::default()
    });
    let resp = send(&h, &rich("claude", true), "native-3").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("event: message_stop"), "{text}");
    let tail = text.trim_end().rsplit("\n\n").next().unwrap_or_default();
    assert!(tail.starts_with("event: error\ndata: "), "{text}");
    let err: Value = serde_json::from_str(tail.split_once("data: ").unwrap().1).unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "api_error");
    assert_eq!(err["request_id"], "native-3");
    h.stop().await;
}

#[tokio::test]
async fn only_the_model_and_a_clamped_limit_change() {
    let yaml = include_str!("../../../../examples/translation.yaml").replace(
        "    max-output-tokens: 64000\n",
        "    max-output-tokens: 1000\n",
    );
    let h = start(
        &yaml,
        &[
            ("anthropic", MockFormat::Anthropic),
            ("openai", MockFormat::OpenAi),
        ],
        &[],
    )
    .await;
    let body = rich("chat-claude", false);
    let resp = send(&h, &body, "native-4").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-signalbox-max-tokens-clamped"),
        "2048->1000"
    );
    let mut want = as_sent_upstream(body, "claude-sonnet-4-5");
    want["max_tokens"] = json!(1000);
    assert_eq!(h.mock("anthropic").stats().last_request.unwrap(), want);
    h.stop().await;
}

#[tokio::test]
async fn a_redacted_request_reaches_an_anthropic_route_redacted() {
    let yaml = include_str!("../../../../examples/privacy.yaml")
        .replace("kind: openai-compatible", "kind: anthropic");
    let h = start(&yaml, &[("upstream", MockFormat::Anthropic)], &[]).await;
    let body = json!({
        "model": "chat", "max_tokens": 64, "top_k": 3,
        "messages": [{"role": "user", "content": [{"type": "text",
            "text": "Email jane.doe@example.com today.", "cache_control": {"type": "ephemeral"}}]}]
    });
    let resp = send(&h, &body, "native-5").await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("upstream").stats().last_request.unwrap().to_string();
    assert!(
        !sent.contains("jane.doe@example.com"),
        "leaked upstream: {sent}"
    );
    assert!(sent.contains("⟦EMAIL_1⟧"), "{sent}");
    let answer: Value = resp.json().await.unwrap();
    let said = answer["content"][0]["text"].as_str().unwrap_or_default();
    assert!(said.contains("jane.doe@example.com"), "{answer}");
    h.stop().await;
}

#[tokio::test]
async fn what_only_anthropic_carries_is_refused_elsewhere_by_field() {
    let h = native().await;
    let resp = send(&h, &rich("gpt", false), "native-6").await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["type"], "error");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("messages[0].content[0]") && message.contains("`document`"),
        "{err}"
    );
    assert!(!message.contains("unknown variant"), "{err}");
    assert_eq!(h.mock("gpt").stats().requests, 0);
    h.stop().await;
}

/// Two Anthropic providers: `flaky` (a one-shot server) before `claude`.
const TWO_ANTHROPIC: &str = r#"
providers:
  - name: flaky
    kind: anthropic
    base-url: ${FLAKY}
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: claude
    kind: anthropic
    base-url: ${CLAUDE_URL}
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - id: flaky-route
    provider: flaky
    model: claude-flaky
    region: us
  - id: claude-route
    provider: claude
    model: claude-test
    region: us
aliases:
  - name: claude
    routes: [flaky-route, claude-route]
"#;

/// Answers every request with a 200 stream whose first event is an
/// Anthropic `error` event.
async fn error_first_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = conn.read(&mut buf).await;
                let body = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_error_first_event_fails_over_and_the_answer_is_marked_degraded() {
    let flaky = error_first_upstream().await;
    let h = start(
        TWO_ANTHROPIC,
        &[("claude", MockFormat::Anthropic)],
        &[("FLAKY", flaky)],
    )
    .await;
    let body = rich("claude", true);
    let resp = send(&h, &body, "native-7").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let text = resp.text().await.unwrap();
    let events = sse_json(&text);
    assert_eq!(events[0]["type"], "message_start", "{text}");
    assert_eq!(
        events[0]["signalbox"]["degraded"][0], "fallback-route",
        "{text}"
    );
    assert_eq!(events.last().unwrap()["type"], "message_stop", "{text}");
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(sent, as_sent_upstream(body.clone(), "claude-test"));
    // JSON answers carry the mark in the body.
    let mut json_body = body;
    json_body["stream"] = json!(false);
    let resp = send(&h, &json_body, "native-8").await;
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(
        answer["signalbox"]["degraded"][0], "fallback-route",
        "{answer}"
    );
    assert_eq!(answer["content"][0]["type"], "thinking", "{answer}");
    h.stop().await;
}

#[tokio::test]
async fn an_idempotent_replay_of_a_native_answer_is_the_same_answer() {
    let h = native().await;
    for stream in [false, true] {
        replayed(&h, stream).await;
    }
    assert_eq!(h.mock("claude").stats().requests, 2);
    h.stop().await;
}

async fn replayed(h: &signalbox_testkit::Harness, stream: bool) {
    let body = rich("claude", stream);
    let key = format!("native-key-{stream}");
    let mut answers = Vec::new();
    for _ in 0..2 {
        let resp = h
            .client
            .post(h.url("/v1/messages"))
            .header("idempotency-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let replayed = header(&resp, "x-signalbox-idempotent-replay") == "true";
        answers.push((replayed, resp.text().await.unwrap()));
    }
    assert_eq!(
        answers.iter().map(|a| a.0).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(answers[0].1, answers[1].1);
    let replay = &answers[1].1;
    if stream {
        assert!(replay.contains("\"signature_delta\""), "{replay}");
        assert_eq!(replay.matches("event: message_stop").count(), 1, "{replay}");
    } else {
        let v: Value = serde_json::from_str(replay).unwrap();
        assert_eq!(v["content"][0]["type"], "thinking", "{v}");
    }
}

#[tokio::test]
async fn a_server_tool_reaches_an_anthropic_route_and_is_refused_elsewhere() {
    let h = native().await;
    let mut body = json!({
        "model": "claude", "max_tokens": 64,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        "messages": [{"role": "user", "content": "Search the news."}]
    });
    let resp = send(&h, &body, "native-9").await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(sent, as_sent_upstream(body.clone(), "claude-test"));
    body["model"] = json!("gpt");
    let resp = send(&h, &body, "native-10").await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tools[0].type: server tool `web_search_20250305`"),
        "{err}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_key_used_on_v1_messages_never_replays_an_anthropic_answer_to_an_openai_client() {
    let h = native().await;
    // A body both endpoints accept, byte for byte.
    let body = json!({"model": "claude", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    let post = |path: &'static str| {
        h.client
            .post(h.url(path))
            .header("idempotency-key", "cross-format-1")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let first = post("/v1/messages").await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["type"], "message", "{first}");
    let second = post("/v1/chat/completions").await.unwrap();
    let replayed = header(&second, "x-signalbox-idempotent-replay") == "true";
    let status = second.status();
    let second: Value = second.json().await.unwrap();
    assert!(
        !(replayed && second["type"] == "message"),
        "an OpenAI client was replayed an Anthropic message: {second}"
    );
    // Same key, another request (its format): a conflict, as for another body.
    assert_eq!(status, 422, "{second}");
    assert_eq!(
        second["error"]["code"], "idempotency_key_reused",
        "{second}"
    );
    h.stop().await;
}

/// What the privacy detectors cannot see (a `document` is not in the
/// OpenAI view they scan) is never forwarded past a boundary: the guarded
/// route is sent the protected, translated request, which cannot carry
/// the document, so nothing is sent at all.
#[tokio::test]
async fn a_secret_in_a_document_never_crosses_a_privacy_boundary() {
    let yaml = include_str!("../../../../examples/privacy.yaml")
        .replace("kind: openai-compatible", "kind: anthropic");
    let h = start(&yaml, &[("upstream", MockFormat::Anthropic)], &[]).await;
    for system in [
        json!("You help."),
        json!([{"type": "text", "text": "Mail jane.doe@example.com.",
                "cache_control": {"type": "ephemeral"}}]),
    ] {
        let body = json!({
            "model": "chat", "max_tokens": 64, "system": system,
            "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                    "data": "Contact jane.doe@example.com for the keys."}},
                {"type": "text", "text": "Summarise."}]}]
        });
        let resp = send(&h, &body, "native-doc").await;
        assert_eq!(resp.status(), 400, "{}", resp.text().await.unwrap());
    }
    let stats = h.mock("upstream").stats();
    assert_eq!(stats.requests, 0, "{:?}", stats.last_request);
    // In `system` blocks (which the view carries) it is redacted.
    let body = json!({
        "model": "chat", "max_tokens": 64,
        "system": [{"type": "text", "text": "Mail jane.doe@example.com.",
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Summarise."}]
    });
    let resp = send(&h, &body, "native-sys").await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("upstream").stats().last_request.unwrap().to_string();
    assert!(!sent.contains("jane.doe@example.com"), "leaked: {sent}");
    h.stop().await;
}

/// A stream cut after commit failed (its caller got an error event): the
/// key is released like a 5xx's, so a retry with it runs again instead of
/// replaying the cut answer until the key expires.
#[tokio::test]
async fn a_cut_stream_is_not_stored_for_idempotent_replay() {
    let h = native().await;
    h.mock("claude").set_faults(Faults {
        cut_stream_after: Some(2),
        ..Faults::default()
    });
    let body = rich("claude", true);
    let post = || {
        h.client
            .post(h.url("/v1/messages"))
            .header("idempotency-key", "cut-key-1")
            .json(&body)
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 200);
    let text = first.text().await.unwrap();
    assert!(text.contains("event: error"), "{text}");
    h.mock("claude").set_faults(Faults::default());
    let mut second = None;
    // The release is written on a task: bounded wait for it.
    for _ in 0..50 {
        let resp = post().await.unwrap();
        if resp.status() == 200 {
            second = Some(resp);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let second = second.expect("the retry was answered");
    assert_ne!(
        header(&second, "x-signalbox-idempotent-replay"),
        "true",
        "the cut answer was replayed"
    );
    let text = second.text().await.unwrap();
    assert!(text.contains("event: message_stop"), "{text}");
    assert_eq!(h.mock("claude").stats().requests, 2);
    h.stop().await;
}

/// What an Anthropic body loses on its way into the OpenAI view (here
/// `top_k` and a system block's `cache_control`) is in the record of a
/// request served by translating it, and absent when it was passed on.
#[tokio::test]
async fn what_the_openai_view_dropped_is_recorded_when_translated() {
    let h = native().await;
    let body = json!({
        "model": "gpt",
        "max_tokens": 256,
        "top_k": 7,
        "system": [{"type": "text", "text": "Be brief.",
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "Hello"}]
    });
    let resp = send(&h, &body, "notes-translated").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    let rec = record(&h, "notes-translated").await;
    let fields: Vec<&str> = rec.translation.iter().map(|t| t.field.as_str()).collect();
    assert!(
        fields.iter().any(|f| f.contains("top_k")),
        "top_k dropped: {:?}",
        rec.translation
    );
    assert!(
        fields.iter().any(|f| f.contains("cache_control")),
        "cache_control dropped: {:?}",
        rec.translation
    );
    let mut passed_on = body.clone();
    passed_on["model"] = json!("claude");
    let resp = send(&h, &passed_on, "notes-native").await;
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    let rec = record(&h, "notes-native").await;
    assert!(rec.translation.is_empty(), "{:?}", rec.translation);
    h.stop().await;
}
