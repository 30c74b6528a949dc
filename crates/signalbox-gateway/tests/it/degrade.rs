//! Declared degradation steps, each visible in the header, the body marker
//! and the decision record: tools disabled, a smaller model with reduced
//! context, and human escalation with its webhook.

use std::sync::Arc;

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, any_port, chat_body, eventually};
use tokio::time::Duration;

use crate::header;
use crate::metrics::value as metric;

const DEGRADE: &str = r#"
resilience:
  escalation: { webhook: "${HOOK_URL}" }
providers:
  - { name: big, kind: openai-compatible, base-url: "${BIG_URL}" }
  - { name: plain, kind: openai-compatible, base-url: "${PLAIN_URL}" }
  - { name: small, kind: openai-compatible, base-url: "${SMALL_URL}" }
routes:
  - id: big
    provider: big
    model: big-model
    region: us
    context-window: 8192
    max-output-tokens: 1024
    supports: { tools: true }
  - { id: plain, provider: plain, model: plain-model, region: us, context-window: 8192, max-output-tokens: 1024 }
  - { id: small, provider: small, model: small-model, region: us, context-window: 400, max-output-tokens: 100 }
aliases:
  - { name: chat, routes: [big, plain] }
  - { name: assist, routes: [big], smaller-model: chat-small }
  - { name: chat-small, routes: [small] }
policy:
  rules:
    - name: tools-optional
      when: { aliases: [chat] }
      degrade: [fallback-route, tools-disabled, human-escalation]
    - name: assistant
      when: { aliases: [assist] }
      degrade: [fallback-route, smaller-model, reduced-context, human-escalation]
"#;

/// A webhook receiver on loopback that keeps what it is sent.
async fn hook() -> (String, Arc<parking_lot::Mutex<Vec<Value>>>) {
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn harness() -> (Harness, Arc<parking_lot::Mutex<Vec<Value>>>) {
    let (url, seen) = hook().await;
    let h = Harness::start(DEGRADE, &["big", "plain", "small"], &[("HOOK_URL", url)]).await;
    (h, seen)
}

fn down() -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    }
}

#[tokio::test]
async fn tools_are_disabled_so_a_route_without_tools_can_serve() {
    let (h, _) = harness().await;
    h.mock("big").set_faults(down());
    let mut body = chat_body("chat", "what is the weather");
    body["tools"] =
        json!([{"type": "function", "function": {"name": "weather", "parameters": {}}}]);
    let resp = h.chat_with(&body, &[("x-request-id", "tools-off")]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "plain");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "tools-disabled");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["signalbox"]["degraded"], json!(["tools-disabled"]));
    let sent = h.mock("plain").stats().last_request.unwrap();
    assert!(
        sent.get("tools").is_none(),
        "tools reached the route: {sent}"
    );
    let rec = h.record("tools-off").await;
    assert_eq!(rec.degraded, vec!["tools-disabled"]);
    assert_eq!(rec.attempts.len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_smaller_model_with_reduced_context_serves_when_the_big_one_is_down() {
    let (h, _) = harness().await;
    h.mock("big").set_faults(down());
    let long_turn = "an old turn that no longer matters ".repeat(40);
    let body = json!({
        "model": "assist",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": long_turn},
            {"role": "assistant", "content": long_turn},
            {"role": "user", "content": "and now the question"}
        ]
    });
    let resp = h.chat_with(&body, &[("x-request-id", "smaller")]).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.headers());
    assert_eq!(header(&resp, "x-signalbox-route"), "small");
    assert_eq!(
        header(&resp, "x-signalbox-degraded"),
        "smaller-model,reduced-context"
    );
    let sent = h.mock("small").stats().last_request.unwrap();
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs.first().unwrap()["content"], "be brief");
    assert_eq!(msgs.last().unwrap()["content"], "and now the question");
    assert!(
        msgs.len() < 4,
        "context was not reduced: {} messages",
        msgs.len()
    );
    let rec = h.record("smaller").await;
    assert_eq!(rec.degraded, vec!["smaller-model", "reduced-context"]);
    h.stop().await;
}

#[tokio::test]
async fn when_nothing_can_serve_a_human_takes_over() {
    let (h, seen) = harness().await;
    h.mock("big").set_faults(down());
    h.mock("plain").set_faults(down());
    let resp = h
        .chat_with(
            &chat_body("chat", "help"),
            &[("x-request-id", "escalate-1")],
        )
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "x-signalbox-degraded"), "human-escalation");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "human_escalation");
    assert_eq!(v["signalbox"]["escalation"]["webhook"], "sent");
    assert_eq!(v["signalbox"]["request_id"], "escalate-1");
    assert!(eventually(Duration::from_secs(5), || !seen.lock().is_empty()).await);
    let event = seen.lock()[0].clone();
    assert_eq!(event["request_id"], "escalate-1");
    assert_eq!(event["tenant"], "default");
    assert!(
        event["reason"]
            .as_str()
            .unwrap()
            .contains("upstream attempts failed")
    );
    assert!(
        !event.to_string().contains("help"),
        "prompt content leaked: {event}"
    );
    h.stop().await;
}

#[tokio::test]
async fn degrade_never_skips_every_step() {
    let (h, seen) = harness().await;
    h.mock("big").set_faults(down());
    let mut body = chat_body("chat", "x");
    body["tools"] = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    let resp = h
        .chat_with(&body, &[("x-signalbox-degrade", "never")])
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "x-signalbox-degraded"), "");
    assert_eq!(h.mock("plain").stats().requests, 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(seen.lock().is_empty());
    h.stop().await;
}

/// Rules whose steps lack `fallback-route`: each round stays on its first
/// route, but the declared steps still run (docs/resilience.md).
const WITHOUT_FALLBACK: &str = r#"
resilience:
  escalation: { webhook: "${HOOK_URL}" }
providers:
  - { name: big, kind: openai-compatible, base-url: "${BIG_URL}" }
  - { name: plain, kind: openai-compatible, base-url: "${PLAIN_URL}" }
  - { name: small, kind: openai-compatible, base-url: "${SMALL_URL}" }
routes:
  - id: big
    provider: big
    model: big-model
    region: us
    context-window: 8192
    max-output-tokens: 1024
    supports: { tools: true }
  - { id: plain, provider: plain, model: plain-model, region: us, context-window: 8192, max-output-tokens: 1024 }
  - { id: small, provider: small, model: small-model, region: us, context-window: 400, max-output-tokens: 100 }
aliases:
  - { name: tools, routes: [big, plain] }
  - { name: assist, routes: [big], smaller-model: short }
  - { name: short, routes: [small] }
  - { name: human, routes: [big] }
policy:
  rules:
    - { name: tools, when: { aliases: [tools] }, degrade: [tools-disabled] }
    - { name: assist, when: { aliases: [assist] }, degrade: [smaller-model] }
    - { name: short, when: { aliases: [short] }, degrade: [reduced-context] }
    - { name: human, when: { aliases: [human] }, degrade: [human-escalation] }
"#;

fn long_conversation(alias: &str) -> Value {
    let long_turn = "an old turn that no longer matters ".repeat(40);
    json!({
        "model": alias,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": long_turn},
            {"role": "assistant", "content": long_turn},
            {"role": "user", "content": "and now the question"}
        ]
    })
}

#[tokio::test]
async fn every_step_runs_without_a_fallback_route_step() {
    let (url, seen) = hook().await;
    let h = Harness::start(
        WITHOUT_FALLBACK,
        &["big", "plain", "small"],
        &[("HOOK_URL", url)],
    )
    .await;

    // reduced-context: the prompt fits no route until old turns go.
    let resp = h.chat(&long_conversation("short")).await;
    assert_eq!(resp.status(), 200, "reduced-context did not run");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "reduced-context");
    let sent = h.mock("small").stats().last_request.unwrap();
    assert!(sent["messages"].as_array().unwrap().len() < 4);

    h.mock("big").set_faults(down());
    // smaller-model: the only route of the alias is down.
    let resp = h.chat(&chat_body("assist", "hi")).await;
    assert_eq!(resp.status(), 200, "smaller-model did not run");
    assert_eq!(header(&resp, "x-signalbox-route"), "small");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "smaller-model");

    // tools-disabled: the tool-capable route is down; without tools the
    // other route qualifies.
    let mut body = chat_body("tools", "what is the weather");
    body["tools"] = json!([{"type": "function", "function": {"name": "w", "parameters": {}}}]);
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200, "tools-disabled did not run");
    assert_eq!(header(&resp, "x-signalbox-route"), "plain");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "tools-disabled");

    // Without tools to drop, the rule still never falls back to `plain`.
    let before = h.mock("plain").stats().requests;
    let resp = h.chat(&chat_body("tools", "plain question")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(h.mock("plain").stats().requests, before, "fell back");

    // human-escalation.
    let resp = h.chat(&chat_body("human", "help")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "x-signalbox-degraded"), "human-escalation");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "human_escalation");
    assert!(eventually(Duration::from_secs(5), || !seen.lock().is_empty()).await);
    h.stop().await;
}

/// The response headers, the body marker, the decision record and the
/// metrics are all derived from one request context: they name the same
/// route, attempts and degradation steps, for a JSON answer, a stream
/// (whose record is completed when it ends) and a failure alike.
#[tokio::test]
async fn headers_record_and_metrics_tell_one_story() {
    let (h, _) = harness().await;
    h.mock("big").set_faults(down());
    let mut body = chat_body("chat", "what is the weather");
    body["tools"] =
        json!([{"type": "function", "function": {"name": "weather", "parameters": {}}}]);
    for (id, stream) in [("story-json", false), ("story-stream", true)] {
        body["stream"] = json!(stream);
        let resp = h.chat_with(&body, &[("x-request-id", id)]).await;
        assert_eq!(resp.status(), 200, "{id}");
        let route = header(&resp, "x-signalbox-route").to_owned();
        let provider = header(&resp, "x-signalbox-provider").to_owned();
        let attempts = header(&resp, "x-signalbox-attempts").to_owned();
        let degraded = header(&resp, "x-signalbox-degraded").to_owned();
        let text = resp.text().await.unwrap();
        assert!(text.contains(r#""degraded":["tools-disabled"]"#), "{text}");
        let rec = h.record(id).await;
        assert_eq!(
            (route.as_str(), degraded.as_str()),
            ("plain", "tools-disabled")
        );
        assert_eq!(rec.chosen.as_deref(), Some(route.as_str()), "{id}");
        assert_eq!(rec.provider.as_deref(), Some(provider.as_str()), "{id}");
        assert_eq!(rec.attempts.len().to_string(), attempts, "{id}");
        assert_eq!(rec.degraded.join(","), degraded, "{id}");
        assert_eq!((rec.status, rec.outcome.as_str()), (200, "served"), "{id}");
        assert_eq!(rec.stream, stream);
    }
    h.mock("plain").set_faults(down());
    let resp = h
        .chat_with(
            &chat_body("chat", "help"),
            &[("x-request-id", "story-fail")],
        )
        .await;
    assert_eq!(resp.status(), 503);
    let attempts = header(&resp, "x-signalbox-attempts").to_owned();
    let degraded = header(&resp, "x-signalbox-degraded").to_owned();
    let rec = h.record("story-fail").await;
    assert_eq!(rec.attempts.len().to_string(), attempts);
    assert_eq!(rec.degraded.join(","), degraded);
    assert_eq!(degraded, "human-escalation");
    assert_eq!((rec.status, rec.outcome.as_str()), (503, "refused"));
    assert_eq!(rec.chosen, None);
    let (_, text) = h.get("/metrics").await;
    let served = r#"signalbox_requests_total{alias="chat",route="plain",status="200"}"#;
    assert_eq!(metric(&text, served), 2.0, "{text}");
    let steps = r#"signalbox_degraded_total{step="tools-disabled"}"#;
    assert_eq!(metric(&text, steps), 2.0, "{text}");
    let escalated = r#"signalbox_errors_total{class="escalated"}"#;
    assert_eq!(metric(&text, escalated), 1.0, "{text}");
    h.stop().await;
}
