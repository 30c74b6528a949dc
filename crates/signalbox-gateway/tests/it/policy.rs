//! Policy constraints enforced end to end: capabilities, context windows,
//! cost ceilings, risk tiers, fail-closed flows and content logging.

use serde_json::{Value, json};
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body};

use crate::header;

/// `small` (no tools, 2k window, cheap) comes first in the alias, `big`
/// (tools, 128k, pricier) second.
const CAPS: &str = r#"
regions: [us]
providers:
  - { name: small, kind: openai-compatible, base-url: "${SMALL_URL}" }
  - { name: big, kind: openai-compatible, base-url: "${BIG_URL}" }
routes:
  - { id: small, provider: small, model: s, region: us, context-window: 2048, max-output-tokens: 512, supports: { tools: false }, price: { input-per-1m: 0.1, output-per-1m: 0.1 }, max-risk-tier: internal }
  - { id: big, provider: big, model: b, region: us, context-window: 128000, supports: { tools: true }, price: { input-per-1m: 10, output-per-1m: 30 }, retention: zero }
tenants:
  - { id: open, log-content: true }
  - { id: vault, api-keys: [{ env: VAULT_KEY }], require-retention: zero }
anonymous-tenant: open
policy:
  rules:
    - name: cheap-only
      when: { headers: { x-budget: tight } }
      objectives: { max-cost-usd: 0.0001 }
    - name: critical
      when: { intents: [critical] }
      routes: [big, small]
      failure-mode: fail-closed
aliases:
  - { name: chat, routes: [small, big] }
"#;

async fn caps() -> Harness {
    Harness::start(
        CAPS,
        &["small", "big"],
        &[("VAULT_KEY", "vault-key".into())],
    )
    .await
}

async fn post(h: &Harness, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = h.client.post(h.url("/v1/chat/completions")).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn tools_requests_never_reach_routes_without_tools() {
    let h = caps().await;
    let mut body = chat_body("chat", "what is the weather?");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    for _ in 0..3 {
        let resp = post(&h, &body, &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-signalbox-route"), "big");
    }
    // Even when the tool-capable route is down, the tools-less one is never used.
    h.mock("big").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = post(&h, &body, &[]).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(h.mock("small").stats().requests, 0);
    // Without tools the cheap route serves.
    let resp = post(&h, &chat_body("chat", "hi"), &[]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "small");
    h.stop().await;
}

#[tokio::test]
async fn context_window_filter_uses_the_token_estimate() {
    let h = caps().await;
    let long = "lorem ipsum dolor sit amet ".repeat(600);
    let resp = post(&h, &chat_body("chat", &long), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "big");
    assert_eq!(h.mock("small").stats().requests, 0);
    // Above small's 512 output tokens: small clamps (the default) and serves.
    let mut body = chat_body("chat", "short");
    body["max_tokens"] = json!(1000);
    let resp = post(&h, &body, &[]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "small");
    assert_eq!(header(&resp, "x-signalbox-max-tokens-clamped"), "1000->512");
    h.stop().await;
}

#[tokio::test]
async fn cost_ceiling_excludes_expensive_routes() {
    let h = caps().await;
    let resp = post(
        &h,
        &chat_body("chat", "hi"),
        &[("x-budget", "tight"), ("x-request-id", "cost-1")],
    )
    .await;
    assert_eq!(header(&resp, "x-signalbox-route"), "small");
    let long = "lorem ipsum dolor sit amet ".repeat(600);
    let resp = post(&h, &chat_body("chat", &long), &[("x-budget", "tight")]).await;
    assert_eq!(
        resp.status(),
        400,
        "nothing is both large enough and cheap enough"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_eligible_route");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("context_window 2048 <") && msg.contains("cost $"),
        "{msg}"
    );
    h.stop().await;
}

#[tokio::test]
async fn risk_tier_can_be_raised_not_used_to_escalate() {
    let h = caps().await;
    let resp = post(
        &h,
        &chat_body("chat", "hi"),
        &[("x-signalbox-risk-tier", "sensitive")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-signalbox-route"),
        "big",
        "small only takes up to internal"
    );
    let resp = post(
        &h,
        &chat_body("chat", "hi"),
        &[("x-signalbox-risk-tier", "galactic")],
    )
    .await;
    assert_eq!(resp.status(), 400);
    h.stop().await;
}

#[tokio::test]
async fn tenant_retention_requirement_is_a_hard_constraint() {
    let h = caps().await;
    let resp = post(
        &h,
        &chat_body("chat", "hi"),
        &[("authorization", "Bearer vault-key")],
    )
    .await;
    assert_eq!(
        header(&resp, "x-signalbox-route"),
        "big",
        "small's retention is weaker than zero"
    );
    h.stop().await;
}

#[tokio::test]
async fn fail_closed_flows_do_not_fall_back() {
    let h = caps().await;
    h.mock("big").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    let resp = post(
        &h,
        &chat_body("chat", "hi"),
        &[("x-signalbox-intent", "critical")],
    )
    .await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "fail_closed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fail-closed")
    );
    assert_eq!(h.mock("small").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn content_is_logged_only_when_the_tenant_allows_it() {
    let h = caps().await;
    let _ = post(
        &h,
        &chat_body("chat", "secret plans"),
        &[("x-request-id", "log-open")],
    )
    .await;
    let _ = post(
        &h,
        &chat_body("chat", "vault plans"),
        &[
            ("x-request-id", "log-vault"),
            ("authorization", "Bearer vault-key"),
        ],
    )
    .await;
    let log = h.gateway.gateway().decision_log().unwrap().clone();
    log.flush().await;
    let reader = log.reader().unwrap();
    let open = reader.find("log-open", None).unwrap().remove(0);
    let content = open.content.expect("open tenant logs content");
    assert!(content.to_string().contains("secret plans"));
    assert!(content.to_string().contains("[small] echo: secret plans"));
    let vault = reader.find("log-vault", None).unwrap().remove(0);
    assert!(vault.content.is_none());
    assert!(
        !serde_json::to_string(&vault)
            .unwrap()
            .contains("vault plans")
    );
    h.stop().await;
}
