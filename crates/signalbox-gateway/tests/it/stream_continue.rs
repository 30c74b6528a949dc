//! `on-stream-break: continue`: a stream cut after its first events is
//! finished by a route that declares `prefill-continuation`, from the text
//! already delivered; the caller gets the whole answer, marked on the
//! first continued chunk and the final one, and the record names both
//! routes. Routes that do not declare it are never asked; a continuation
//! that fails (or rejects the prefill) leaves the caller the original
//! break's error event; an alias without `continue` keeps today's error.

use serde_json::{Value, json};
use signalbox_mock::{Faults, MockFormat, MockOptions};
use signalbox_testkit::{Harness, stream_body};

const CONTINUE: &str = r#"
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}", timeouts: { connect: 500ms, first-byte: 2s, total: 10s } }
  - { name: plain, kind: openai-compatible, base-url: "${PLAIN_URL}", timeouts: { connect: 500ms, first-byte: 2s, total: 10s } }
  - { name: claude, kind: anthropic, base-url: "${CLAUDE_URL}", api-key: { env: CLAUDE_KEY }, timeouts: { connect: 500ms, first-byte: 2s, total: 10s } }
routes:
  - { id: primary-route, provider: primary, model: gpt-4o, region: us }
  - { id: plain-route, provider: plain, model: gpt-4o, region: us }
  - { id: claude-route, provider: claude, model: claude-sonnet, region: us, supports: { prefill-continuation: true } }
aliases:
  - { name: chat, routes: [primary-route, plain-route, claude-route], on-stream-break: continue }
  - { name: strict, routes: [primary-route, claude-route] }
"#;

async fn start() -> Harness {
    let opts = MockOptions {
        stream_chunks: 6,
        chunk_delay_ms: 5,
        ..MockOptions::default()
    };
    let mocks = [
        ("primary", MockFormat::OpenAi),
        ("plain", MockFormat::OpenAi),
        ("claude", MockFormat::Anthropic),
    ];
    let h =
        Harness::start_formats(CONTINUE, &mocks, &[("CLAUDE_KEY", "sk-ant".into())], opts).await;
    h.mock("primary").set_faults(Faults {
        cut_stream_after: Some(3),
        ..Faults::default()
    });
    h
}

async fn stream(h: &Harness, model: &str, id: &str) -> String {
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-request-id", id)
        .json(&stream_body(model, "tell me about continued streams"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

fn events(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

fn content(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn a_cut_stream_is_finished_by_a_prefill_route_and_marked() {
    let h = start().await;
    let text = stream(&h, "chat", "cont-1").await;
    let evs = events(&text);
    assert_eq!(
        content(&evs),
        "[primary] echo: tell me about continued streams",
        "the whole answer, the primary's start and the rest from claude: {text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(evs.iter().all(|v| v.get("error").is_none()), "{text}");
    let marked: Vec<&Value> = evs
        .iter()
        .filter(|v| v["signalbox"]["continued"].is_object())
        .collect();
    assert_eq!(
        marked.len(),
        2,
        "first continued chunk and final chunk: {text}"
    );
    for m in &marked {
        assert_eq!(m["signalbox"]["continued"]["from"], "primary-route");
        assert_eq!(m["signalbox"]["continued"]["to"], "claude-route");
    }
    assert_eq!(
        h.mock("plain").stats().requests,
        0,
        "no prefill declared: never asked"
    );
    let rec = h.record("cont-1").await;
    let cont = rec.continued.clone().unwrap();
    assert_eq!(cont.from, "primary-route");
    assert_eq!(cont.to.as_deref(), Some("claude-route"));
    assert!(cont.delivered_chars > 0);
    let outcomes: Vec<&str> = rec.attempts.iter().map(|a| a.outcome.label()).collect();
    assert_eq!(outcomes, ["stream_cut", "success"], "{rec:?}");
    assert!(rec.skipped.iter().any(|s| s.route == "plain-route") || rec.attempts.len() == 2);
    assert_eq!(rec.error, None);
    h.stop().await;
}

#[tokio::test]
async fn an_anthropic_client_gets_one_message_continued() {
    let h = start().await;
    let resp = h
        .client
        .post(h.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("x-request-id", "cont-2")
        .json(&json!({
            "model": "chat", "max_tokens": 64, "stream": true,
            "messages": [{"role": "user", "content": "tell me about continued streams"}]
        }))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    let starts = evs.iter().filter(|v| v["type"] == "message_start").count();
    assert_eq!(starts, 1, "one message for the caller: {text}");
    let said: String = evs
        .iter()
        .filter_map(|v| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(
        said, "[primary] echo: tell me about continued streams",
        "{text}"
    );
    assert!(evs.iter().any(|v| v["type"] == "message_stop"), "{text}");
    assert!(evs.iter().all(|v| v["type"] != "error"), "{text}");
    h.stop().await;
}

#[tokio::test]
async fn a_continuation_that_fails_leaves_the_original_break() {
    let h = start().await;
    // The prefill route rejects the request (as a model refusing a prefill does).
    h.mock("claude").set_faults(Faults {
        error_rate: 1.0,
        error_status: 400,
        ..Faults::default()
    });
    let text = stream(&h, "chat", "cont-3").await;
    let evs = events(&text);
    let last = evs.last().unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{text}");
    assert!(
        !text.contains("400"),
        "the continuation's 400 never surfaces: {text}"
    );
    let rec = h.record("cont-3").await;
    let cont = rec.continued.clone().unwrap();
    assert_eq!(cont.to, None);
    assert_eq!(
        rec.attempts.first().map(|a| a.outcome.label()),
        Some("stream_cut")
    );
    h.stop().await;
}

#[tokio::test]
async fn an_alias_without_continue_keeps_the_error_event() {
    let h = start().await;
    let text = stream(&h, "strict", "cont-4").await;
    let last = events(&text).pop().unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{text}");
    assert_eq!(h.mock("claude").stats().requests, 0);
    assert!(h.record("cont-4").await.continued.is_none());
    h.stop().await;
}
