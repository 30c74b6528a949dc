//! Anthropic's structured output, `output_config.format`: read by the
//! Anthropic ingress as the request's response format, so it is enforced
//! on every route (an OpenAI route is sent `response_format: json_schema`)
//! and every answer is checked against it before it is returned, an
//! Anthropic route's too (passed the client's body as written: the mock's
//! Anthropic API answers the schema natively, and its `break_schema`
//! quality fault breaks it). Errors keep Anthropic's shape.

use serde_json::{Value, json};
use signalbox_mock::{Faults, MockFormat, MockOptions, QualityFault};
use signalbox_testkit::Harness;

use crate::header;

const YAML: &str = r#"
providers:
  - { name: claude, kind: anthropic, base-url: "${CLAUDE_URL}" }
  - { name: claude2, kind: anthropic, base-url: "${CLAUDE2_URL}" }
  - { name: gpt, kind: openai-compatible, base-url: "${GPT_URL}" }
routes:
  - { id: claude-route, provider: claude, model: c1, region: us, supports: { json-mode: true } }
  - { id: claude2-route, provider: claude2, model: c2, region: us, supports: { json-mode: true } }
  - { id: gpt-route, provider: gpt, model: g, region: us, supports: { json-mode: true } }
aliases:
  - { name: pair, routes: [claude-route, claude2-route] }
  - { name: gpt, routes: [gpt-route] }
"#;

async fn harness() -> Harness {
    Harness::start_formats(
        YAML,
        &[
            ("claude", MockFormat::Anthropic),
            ("claude2", MockFormat::Anthropic),
            ("gpt", MockFormat::OpenAi),
        ],
        &[],
        MockOptions::default(),
    )
    .await
}

fn place() -> Value {
    json!({"type": "object", "properties": {"location": {"type": "string"}},
        "required": ["location"], "additionalProperties": false})
}

fn body(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": "where?"}],
        "output_config": {"format": {"type": "json_schema", "schema": place()}}
    })
}

async fn send(h: &Harness, body: &Value, id: &str) -> reqwest::Response {
    h.client
        .post(h.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The text an Anthropic answer (JSON, or its stream) carries.
fn text_of(text: &str, stream: bool) -> String {
    if !stream {
        let v: Value = serde_json::from_str(text).unwrap();
        return v["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_anthropic_route_is_passed_the_format_and_its_answer_checked() {
    let h = harness().await;
    h.mock("claude").set_faults(Faults {
        quality: Some(QualityFault::BreakSchema),
        ..Faults::default()
    });
    for stream in [false, true] {
        let id = format!("sa-{stream}");
        let resp = send(&h, &body("pair", stream), &id).await;
        assert_eq!(resp.status(), 200);
        // claude broke the schema: claude2 serves, marked.
        assert_eq!(header(&resp, "x-signalbox-route"), "claude2-route");
        assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("42"), "{text}");
        let said: Value = serde_json::from_str(&text_of(&text, stream)).unwrap_or_default();
        assert_eq!(said, json!({"location": "Paris"}), "{text}");
        // Passed as written: the provider enforces the format itself.
        let sent = h.mock("claude2").stats().last_request.unwrap();
        assert_eq!(sent["output_config"]["format"]["schema"], place(), "{sent}");
        let rec = h.record(&id).await;
        assert_eq!(rec.attempts[0].outcome.label(), "bad_response", "{rec:?}");
        assert!(rec.attempts[0].detail.contains("at `/location`"), "{rec:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn no_anthropic_route_answering_to_schema_is_an_anthropic_502_naming_it() {
    let h = harness().await;
    for mock in ["claude", "claude2"] {
        h.mock(mock).set_faults(Faults {
            quality: Some(QualityFault::BreakSchema),
            ..Faults::default()
        });
    }
    let resp = send(&h, &body("pair", false), "sa-none").await;
    let v = crate::error_says(resp, 502, "at `/location`").await;
    assert_eq!(v["type"], "error", "Anthropic's shape: {v}");
    h.stop().await;
}

#[tokio::test]
async fn an_openai_route_is_sent_the_format_as_a_json_schema_and_checked() {
    let h = harness().await;
    let resp = send(&h, &body("gpt", false), "sa-gpt").await;
    // Sent as response_format (never dropped), and the mock's chat API
    // answers prose: not JSON, refused before it reaches the caller.
    let sent = h.mock("gpt").stats().last_request.unwrap();
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"],
        place(),
        "{sent}"
    );
    assert!(sent.get("output_config").is_none(), "{sent}");
    let v = crate::error_says(resp, 502, "not JSON as its response schema requires").await;
    assert_eq!(v["type"], "error", "{v}");
    h.stop().await;
}

#[tokio::test]
async fn a_schema_that_does_not_compile_is_a_400_naming_the_clients_field() {
    let h = harness().await;
    let mut sent = body("pair", false);
    sent["output_config"]["format"]["schema"] = json!({"type": 12});
    let resp = send(&h, &sent, "sa-bad-schema").await;
    let says = "output_config.format.schema is not a valid JSON Schema";
    let v = crate::error_says(resp, 400, says).await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(h.mock("claude").stats().requests, 0);
    h.stop().await;
}
