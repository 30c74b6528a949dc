//! A reasoning effort carried where the route can express it: a Responses
//! client's `reasoning.effort` (and a chat client's `reasoning_effort`)
//! reaches an OpenAI-compatible chat route as `reasoning_effort`, an
//! Anthropic route declaring `supports.reasoning` as extended thinking
//! with the documented budget, and is dropped with a note (and named in
//! `x-signalbox-dropped-fields`) on an Anthropic route without it. An
//! Anthropic client's `thinking` budget reaches an OpenAI route as the
//! effort covering it; a Gemini route declaring the capability gets a
//! `thinkingBudget`.

use serde_json::{Value, json};
use signalbox_mock::{MockFormat, MockOptions};
use signalbox_testkit::Harness;

use crate::header;
use crate::responses::output_text;

const YAML: &str = r#"
providers:
  - name: claude
    kind: anthropic
    base-url: ${CLAUDE_URL}
  - name: plain
    kind: openai-compatible
    base-url: ${PLAIN_URL}
  - name: gem
    kind: gemini
    base-url: ${GEM_URL}
    api-key: { env: GEM_KEY }
routes:
  - id: thinking-route
    provider: claude
    model: claude-thinking
    region: us
    supports: { reasoning: true }
    context-window: 200000
    max-output-tokens: 32000
  - id: classic-route
    provider: claude
    model: claude-classic
    region: us
  - id: plain-route
    provider: plain
    model: o-plain
    region: us
  - id: gem-route
    provider: gem
    model: gemini-thinking
    region: us
    supports: { reasoning: true }
aliases:
  - name: thinking
    routes: [thinking-route]
  - name: classic
    routes: [classic-route]
  - name: plain
    routes: [plain-route]
  - name: gem
    routes: [gem-route]
"#;

async fn harness() -> Harness {
    Harness::start_formats(
        YAML,
        &[
            ("claude", MockFormat::Anthropic),
            ("plain", MockFormat::OpenAi),
            ("gem", MockFormat::Gemini),
        ],
        &[("GEM_KEY", "gem-key".into())],
        MockOptions::default(),
    )
    .await
}

fn body(alias: &str, effort: &str) -> Value {
    json!({
        "model": alias,
        "input": "hello",
        "max_output_tokens": 64,
        "temperature": 0.3,
        "reasoning": {"effort": effort}
    })
}

async fn post(h: &Harness, path: &str, body: &Value, id: &str) -> reqwest::Response {
    h.client
        .post(h.url(path))
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The record's notes on `field` as `(action, reason)`.
async fn notes_on(h: &Harness, id: &str, field: &str) -> Vec<(String, String)> {
    h.record(id)
        .await
        .translation
        .into_iter()
        .filter(|t| t.field == field)
        .map(|t| (t.action, t.reason))
        .collect()
}

#[tokio::test]
async fn a_responses_effort_reaches_an_anthropic_route_as_extended_thinking() {
    let h = harness().await;
    let resp = post(&h, "/v1/responses", &body("thinking", "medium"), "rr-think").await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(output_text(&v), "[claude] echo: hello", "{v}");
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096}),
        "{sent}"
    );
    // Thinking counts within max_tokens; the answer keeps its 64.
    assert_eq!(sent["max_tokens"], 4160, "{sent}");
    assert!(sent.get("temperature").is_none(), "{sent}");
    let notes = notes_on(&h, "rr-think", "reasoning_effort").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "translated");
    assert!(notes[0].1.contains("budget_tokens=4096"), "{notes:?}");
    // Streamed: the thinking block is skipped, the answer's text comes back.
    let mut streamed = body("thinking", "medium");
    streamed["stream"] = json!(true);
    let text = post(&h, "/v1/responses", &streamed, "rr-think-stream")
        .await
        .text()
        .await
        .unwrap();
    let evs = crate::responses::events(&text);
    let (last, done) = evs.last().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    assert_eq!(
        output_text(&done["response"]),
        "[claude] echo: hello",
        "{text}"
    );
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(sent["thinking"]["budget_tokens"], 4096, "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn an_anthropic_route_without_the_capability_drops_the_effort_noted() {
    let h = harness().await;
    let resp = post(&h, "/v1/responses", &body("classic", "high"), "rr-classic").await;
    assert_eq!(resp.status(), 200);
    let dropped = header(&resp, "x-signalbox-dropped-fields").to_owned();
    assert!(dropped.contains("reasoning_effort"), "{dropped}");
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert!(sent.get("thinking").is_none(), "{sent}");
    assert_eq!(sent["max_tokens"], 64, "{sent}");
    let notes = notes_on(&h, "rr-classic", "reasoning_effort").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "dropped");
    assert!(notes[0].1.contains("supports.reasoning"), "{notes:?}");
    h.stop().await;
}

#[tokio::test]
async fn an_openai_compatible_chat_route_gets_reasoning_effort() {
    let h = harness().await;
    let resp = post(&h, "/v1/responses", &body("plain", "high"), "rr-plain").await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("plain").stats().last_request.unwrap();
    assert_eq!(sent["reasoning_effort"], "high", "{sent}");
    assert!(sent.get("reasoning").is_none(), "{sent}");
    let notes = notes_on(&h, "rr-plain", "reasoning.effort").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "translated");
    h.stop().await;
}

#[tokio::test]
async fn a_gemini_route_gets_a_thinking_budget() {
    let h = harness().await;
    let resp = post(&h, "/v1/responses", &body("gem", "low"), "rr-gem").await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("gem").stats().last_request.unwrap();
    assert_eq!(
        sent["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024}),
        "{sent}"
    );
    let notes = notes_on(&h, "rr-gem", "reasoning_effort").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "translated");
    h.stop().await;
}

#[tokio::test]
async fn a_chat_clients_reasoning_effort_reaches_anthropic_too() {
    let h = harness().await;
    let chat = json!({
        "model": "thinking",
        "max_tokens": 8000,
        "reasoning_effort": "low",
        "messages": [{"role": "user", "content": "hello"}]
    });
    let resp = post(&h, "/v1/chat/completions", &chat, "rr-chat").await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024}),
        "{sent}"
    );
    // Room enough already: max_tokens as asked.
    assert_eq!(sent["max_tokens"], 8000, "{sent}");
    assert!(sent.get("reasoning_effort").is_none(), "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn an_anthropic_clients_thinking_reaches_an_openai_route_as_an_effort() {
    let h = harness().await;
    let body = json!({
        "model": "plain",
        "max_tokens": 8000,
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "messages": [{"role": "user", "content": "hello"}]
    });
    let resp = h
        .client
        .post(h.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("x-request-id", "rr-anthropic")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = h.mock("plain").stats().last_request.unwrap();
    assert_eq!(sent["reasoning_effort"], "high", "{sent}");
    assert!(sent.get("thinking").is_none(), "{sent}");
    let notes = notes_on(&h, "rr-anthropic", "thinking").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "translated");
    h.stop().await;
}
