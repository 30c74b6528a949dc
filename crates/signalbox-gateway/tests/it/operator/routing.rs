//! What each action does to routing, one gateway per action: throttles
//! (tenant: 429; route: skipped), forced breakers, fail-closed, pin (refused
//! out of region), disabled tools (degraded, marked), escalation.

use serde_json::{Value, json};
use signalbox_mock::Faults;

use super::Ops;
use crate::header;

/// A gateway with `action` in force (created by the operator token).
async fn with(action: Value) -> (Ops, String) {
    let ops = Ops::start().await;
    let (status, created) = ops.act("oncall", action, "incident", None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    (ops, id)
}

#[tokio::test]
async fn a_throttled_tenant_gets_429_with_retry_after() {
    let (ops, id) =
        with(json!({"kind": "throttle", "target": {"tenant": "acme"}, "requests-per-minute": 1}))
            .await;
    assert_eq!(ops.chat(&[]).await.status(), 200);
    let r = ops.chat(&[]).await;
    assert_eq!(r.status(), 429);
    assert!(!header(&r, "retry-after").is_empty());
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "tenant_limit", "{body}");
}

#[tokio::test]
async fn a_throttled_route_is_skipped_past_its_limit() {
    let (ops, id) = with(
        json!({"kind": "throttle", "target": {"route": "primary-route"}, "requests-per-minute": 1}),
    )
    .await;
    let first = ops.chat(&[]).await;
    assert_eq!(header(&first, "x-signalbox-route"), "primary-route");
    let second = ops.chat(&[]).await;
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&second, "x-signalbox-operator-actions"), id);
    assert_eq!(ops.primary.stats().requests, 1);
}

#[tokio::test]
async fn a_forced_open_breaker_is_skipped() {
    let (ops, id) = with(json!({"kind": "force-open", "route": "primary-route"})).await;
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    assert_eq!(ops.primary.stats().requests, 0);
}

#[tokio::test]
async fn a_fail_closed_switch_stops_failover() {
    let (ops, _) = with(json!({"kind": "fail-closed", "target": {"alias": "chat"}})).await;
    ops.primary.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let r = ops.chat(&[]).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "fail_closed", "{body}");
    assert_eq!(ops.secondary.stats().requests, 0, "no fallback");
}

#[tokio::test]
async fn a_pin_narrows_the_alias_and_never_serves_out_of_region() {
    let (ops, id) = with(json!({"kind": "pin", "alias": "chat", "route": "secondary-route"})).await;
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    assert_eq!(ops.primary.stats().requests, 0);
    // Bound to us: the pinned eu route is excluded, so the request is refused.
    let r = ops.chat(&[("x-signalbox-region", "us")]).await;
    assert_eq!(r.status(), 400, "refused, not served out of region");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_eligible_route", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&id),
        "{body}"
    );
    assert_eq!(ops.primary.stats().requests, 0);
}

#[tokio::test]
async fn disabled_tools_serve_without_them_marked_degraded() {
    let (ops, id) = with(json!({"kind": "disable-tools", "target": {"tenant": "acme"}})).await;
    let with_tools = json!({
        "model": "chat",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    });
    let r = ops.chat_on(&ops.gateway, &with_tools, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-signalbox-degraded"), "tools-disabled");
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["signalbox"]["degraded"],
        json!(["tools-disabled"]),
        "{body}"
    );
    // A fail-closed caller is refused instead, nothing sent.
    let before = ops.primary.stats().requests;
    let r = ops
        .chat_on(
            &ops.gateway,
            &with_tools,
            &[("x-signalbox-degrade", "never")],
        )
        .await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "fail_closed", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&id),
        "{body}"
    );
    assert_eq!(ops.primary.stats().requests, before);
}

#[tokio::test]
async fn an_escalation_trigger_takes_the_escalation_path() {
    let (ops, id) = with(json!({"kind": "escalate", "intent": "general"})).await;
    let r = ops.chat(&[]).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "human_escalation", "{body}");
    let reason = body["signalbox"]["escalation"]["reason"].as_str().unwrap();
    assert!(reason.contains(&id), "{body}");
    assert_eq!(
        ops.primary.stats().requests + ops.secondary.stats().requests,
        0,
        "nothing sent"
    );
}
