//! Shadow traffic against the mocks: the caller's answer always comes from
//! the primary and never waits for the shadow call (seen in the shadow
//! mock's call log, still pending when the caller has its answer); the
//! shadow answer is scored against the served one and reported by
//! `GET /admin/shadow`; idempotency-keyed and irreversible requests,
//! tenants out of scope, and requests the shadow route fails a hard
//! constraint for (residency) are never mirrored.

use std::time::Duration;

use serde_json::{Value, json};
use signalbox_mock::{CallOutcome, Faults};
use signalbox_testkit::{Harness, eventually};

use crate::header;

const CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: shadow, kind: openai-compatible, base-url: "${SHADOW_URL}" }
  - { name: faraway, kind: openai-compatible, base-url: "${FARAWAY_URL}" }
routes:
  - { id: primary-route, provider: primary, model: a, region: eu, supports: { tools: true }, price: { input-per-1m: 1, output-per-1m: 2 } }
  - { id: shadow-route, provider: shadow, model: b, region: eu, supports: { tools: true }, price: { input-per-1m: 2, output-per-1m: 4 } }
  - { id: us-shadow, provider: faraway, model: c, region: us, supports: { tools: true } }
aliases:
  - { name: chat, routes: [primary-route] }
tenants:
  - { id: acme, api-keys: [{ env: ACME_KEY }], allowed-regions: [eu] }
  - { id: initech, api-keys: [{ env: INITECH_KEY }] }
  - { id: hooli, api-keys: [{ env: HOOLI_KEY }] }
shadow:
  max-concurrency: 1
  rules:
    - { name: eu-candidate, route: shadow-route, sample: 1.0, when: { tenants: [acme] } }
    - { name: us-candidate, route: us-shadow, sample: 1.0, when: { tenants: [initech] } }
"#;

async fn start() -> Harness {
    let h = Harness::start(
        CONFIG,
        &["primary", "shadow", "faraway"],
        &[
            ("ADMIN_TOKEN", "admin-secret".into()),
            ("ACME_KEY", "acme-key".into()),
            ("INITECH_KEY", "initech-key".into()),
            ("HOOLI_KEY", "hooli-key".into()),
        ],
    )
    .await;
    for m in ["primary", "shadow", "faraway"] {
        h.mock(m).log_calls(true);
    }
    h
}

fn weather() -> Value {
    json!({"model": "chat", "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]})
}

async fn ask(h: &Harness, key: &str, id: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str()), ("x-request-id", id)];
    headers.extend_from_slice(extra);
    h.chat_with(&weather(), &headers).await
}

/// Calls the mock `name` received with this request id, with what it did.
fn calls(h: &Harness, name: &str, id: &str) -> Vec<CallOutcome> {
    h.mock(name)
        .calls()
        .into_iter()
        .filter(|c| c.request_id.as_deref() == Some(id))
        .map(|c| c.outcome)
        .collect()
}

async fn report(h: &Harness) -> Value {
    h.admin_json("/admin/shadow", "admin-secret").await
}

fn route<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["route"] == id)
        .unwrap_or(&Value::Null)
}

async fn compared(h: &Harness, id: &str, n: u64) -> bool {
    for _ in 0..200 {
        if route(&report(h).await, id)["compared"].as_u64() >= Some(n) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn the_served_answer_comes_from_the_primary_and_never_waits_for_the_shadow() {
    let h = start().await;
    // The shadow route is slow: the caller must not notice.
    h.mock("shadow").set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    });
    let resp = ask(&h, "acme-key", "sh-1", &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    let body: Value = resp.json().await.unwrap();
    // The answer is the primary's, and the shadow call has not answered yet.
    assert_eq!(calls(&h, "primary", "sh-1"), [CallOutcome::Json]);
    let shadow_done = calls(&h, "shadow", "sh-1").contains(&CallOutcome::Json);
    assert!(!shadow_done, "the caller waited for the shadow answer");
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    // With its one slot busy, the next request's shadow is dropped, counted.
    let resp = ask(&h, "acme-key", "sh-2", &[]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    // The shadow call arrives (seen in the mock's call log) and is scored.
    assert!(
        eventually(Duration::from_secs(5), || calls(&h, "shadow", "sh-1")
            == [CallOutcome::Json])
        .await
    );
    assert!(
        compared(&h, "shadow-route", 1).await,
        "{}",
        report(&h).await
    );
    let r = report(&h).await;
    let shadow = route(&r, "shadow-route");
    assert_eq!(shadow["mirrored"], 1);
    assert_eq!(shadow["skipped"]["concurrency"], 1, "{shadow}");
    assert!(calls(&h, "shadow", "sh-2").is_empty());
    assert_eq!(shadow["agreement"]["tool-call"]["rate"], 1.0, "{shadow}");
    assert_eq!(shadow["agreement"]["refusal"]["rate"], 1.0, "{shadow}");
    assert!(
        shadow["mean_latency_delta_ms"].as_f64().unwrap() > 1000.0,
        "{shadow}"
    );
    assert!(
        shadow["mean_cost_delta_usd"].as_f64().unwrap() > 0.0,
        "{shadow}"
    );
    let (_, metrics) = h.get("/metrics").await;
    assert!(metrics.contains(r#"signalbox_shadow_agreement_total{route="shadow-route",scorer="tool-call",agreed="true"} 1"#), "{metrics}");
}

#[tokio::test]
async fn a_shadow_route_that_calls_tools_wrongly_shows_as_disagreement() {
    let h = start().await;
    h.mock("shadow").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    for i in 0..3 {
        let resp = ask(&h, "acme-key", &format!("dis-{i}"), &[]).await;
        assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
        let body: Value = resp.json().await.unwrap();
        // The caller never sees the shadow's broken arguments.
        let args = &body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"];
        assert_eq!(args, r#"{"location":"Paris"}"#);
        assert!(compared(&h, "shadow-route", i + 1).await);
    }
    let r = report(&h).await;
    let agreement = &route(&r, "shadow-route")["agreement"];
    assert_eq!(agreement["tool-call"]["agreed"], 0, "{agreement}");
    assert_eq!(agreement["tool-call"]["judged"], 3, "{agreement}");
    assert_eq!(agreement["refusal"]["rate"], 1.0, "{agreement}");
}

/// A disagreeing shadow answer is an event in the audit trail (what
/// `what-changed` lists), naming the route, the served request and what
/// differed; three disagreements in a row make one event, not three.
#[tokio::test]
async fn a_disagreement_is_one_rate_limited_event_in_the_audit_trail() {
    let h = start().await;
    h.mock("shadow").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    for i in 0..3 {
        ask(&h, "acme-key", &format!("ev-{i}"), &[]).await;
        assert!(compared(&h, "shadow-route", i + 1).await);
    }
    let first = h.record("ev-0").await.request_id;
    let events = |audit: &Value| -> Vec<Value> {
        audit["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["who"] == "signalbox-shadow")
            .cloned()
            .collect()
    };
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = events(&h.admin_json("/admin/audit?limit=50", "admin-secret").await);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.len(), 1, "rate limited: {seen:?}");
    let e = &seen[0];
    assert_eq!(
        (e["reason"].as_str(), e["path"].as_str()),
        (Some("disagreement"), Some("/shadow/shadow-route"))
    );
    let detail = e["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&first) && detail.contains("tool-call"),
        "{detail}"
    );
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics.contains(r#"signalbox_shadow_events_total{route="shadow-route",kind="disagreement",suppressed="true"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn keyed_irreversible_and_unscoped_requests_are_never_mirrored() {
    let h = start().await;
    ask(&h, "acme-key", "keyed", &[("idempotency-key", "k-1")]).await;
    ask(
        &h,
        "acme-key",
        "irrev",
        &[("x-signalbox-irreversible", "true")],
    )
    .await;
    ask(&h, "hooli-key", "unscoped", &[]).await;
    // A request that is mirrored, so the ones above had their chance.
    ask(&h, "acme-key", "mirrored", &[]).await;
    assert!(compared(&h, "shadow-route", 1).await);
    for id in ["keyed", "irrev", "unscoped"] {
        assert_eq!(calls(&h, "primary", id), [CallOutcome::Json], "{id}");
        assert!(calls(&h, "shadow", id).is_empty(), "{id} was mirrored");
        assert!(calls(&h, "faraway", id).is_empty(), "{id} was mirrored");
    }
    let r = report(&h).await;
    let skipped = &route(&r, "shadow-route")["skipped"];
    assert_eq!(skipped["idempotency_key"], 1, "{skipped}");
    assert_eq!(skipped["irreversible"], 1, "{skipped}");
    assert_eq!(route(&r, "shadow-route")["mirrored"], 1);
}

#[tokio::test]
async fn a_shadow_route_outside_the_requests_residency_is_never_called() {
    let h = start().await;
    // initech may be served anywhere, but this request must stay in the eu.
    let resp = ask(
        &h,
        "initech-key",
        "eu-only",
        &[("x-signalbox-region", "eu")],
    )
    .await;
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    let resp = ask(&h, "initech-key", "anywhere", &[]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    assert!(compared(&h, "us-shadow", 1).await, "{}", report(&h).await);
    assert!(
        calls(&h, "faraway", "eu-only").is_empty(),
        "residency broken"
    );
    assert_eq!(calls(&h, "faraway", "anywhere"), [CallOutcome::Json]);
    let r = report(&h).await;
    assert_eq!(route(&r, "us-shadow")["skipped"]["constraints"], 1, "{r}");
}

#[tokio::test]
async fn the_report_needs_an_admin_token() {
    let h = start().await;
    let status = h
        .client
        .get(h.url("/admin/shadow"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let r = report(&h).await;
    assert_eq!(r["rules"][0]["name"], "eu-candidate");
    assert_eq!(r["max_concurrency"], 1);
}

const PRIVACY_CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: shadow, kind: openai-compatible, base-url: "${SHADOW_URL}" }
routes:
  - { id: in-house, provider: primary, model: a, region: us, zone: internal }
  - { id: vendor, provider: shadow, model: b, region: us, zone: external }
aliases:
  - { name: chat, routes: [in-house] }
privacy:
  zones: [internal, external]
  boundaries:
    - zone: external
      protect:
        classes: { email: tokenise, secret: block }
shadow:
  rules:
    - { name: try-vendor, route: vendor, sample: 1.0 }
"#;

#[tokio::test]
async fn the_shadow_routes_privacy_boundary_applies_to_the_shadow_request() {
    let h = Harness::start(
        PRIVACY_CONFIG,
        &["primary", "shadow"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await;
    h.mock("shadow").log_calls(true);
    let email = "jane.doe@example.com";
    let body = signalbox_testkit::chat_body("chat", &format!("Write to {email} today."));
    let resp = h.chat_with(&body, &[("x-request-id", "pii")]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "in-house");
    assert!(compared(&h, "vendor", 1).await, "{}", report(&h).await);
    // The internal route saw the address; the external shadow only a token.
    let served = h.mock("primary").stats().last_request.unwrap().to_string();
    assert!(served.contains(email), "{served}");
    let mirrored = h.mock("shadow").stats().last_request.unwrap().to_string();
    assert!(
        !mirrored.contains(email) && mirrored.contains("⟦EMAIL_1⟧"),
        "{mirrored}"
    );
    // A secret the external zone blocks is never mirrored.
    let secret = signalbox_testkit::chat_body("chat", "My key is AKIAIOSFODNN7EXAMPLE.");
    let resp = h.chat_with(&secret, &[("x-request-id", "secret")]).await;
    assert_eq!(resp.status(), 200);
    let mut skipped = Value::Null;
    for _ in 0..100 {
        skipped = route(&report(&h).await, "vendor")["skipped"]["privacy_blocked"].clone();
        if skipped == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(skipped, 1, "{}", report(&h).await);
    assert!(calls(&h, "shadow", "secret").is_empty());
}

const VARIANT_CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: claude, kind: anthropic, base-url: "${CLAUDE_URL}", api-key: { env: CLAUDE_KEY } }
routes:
  - { id: gpt, provider: primary, model: a, region: us }
  - { id: claude-route, provider: claude, model: claude-x, region: us }
aliases:
  - { name: chat, routes: [gpt] }
prompts:
  - id: support
    versions:
      - version: v1
        template: "You are the default support agent."
        variants: { anthropic: "You are the Claude support agent." }
shadow:
  rules:
    - { name: try-claude, route: claude-route, sample: 1.0 }
"#;

#[tokio::test]
async fn the_shadow_route_gets_its_familys_prompt_variant() {
    let h = Harness::start_formats(
        VARIANT_CONFIG,
        &[
            ("primary", signalbox_mock::MockFormat::OpenAi),
            ("claude", signalbox_mock::MockFormat::Anthropic),
        ],
        &[
            ("ADMIN_TOKEN", "admin-secret".into()),
            ("CLAUDE_KEY", "sk-ant-test".into()),
        ],
        signalbox_mock::MockOptions::default(),
    )
    .await;
    let body = signalbox_testkit::chat_body("chat", "hello");
    let resp = h
        .chat_with(&body, &[("x-signalbox-prompt", "support")])
        .await;
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt");
    assert!(
        compared(&h, "claude-route", 1).await,
        "{}",
        report(&h).await
    );
    let served = h.mock("primary").stats().last_request.unwrap().to_string();
    assert!(served.contains("the default support agent"), "{served}");
    let mirrored = h.mock("claude").stats().last_request.unwrap().to_string();
    assert!(mirrored.contains("the Claude support agent"), "{mirrored}");
}
