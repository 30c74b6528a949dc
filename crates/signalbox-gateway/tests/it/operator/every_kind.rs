//! Every action kind, not only drain: in force once created, still in
//! force after a configuration reload, gone by itself when its TTL ends
//! (each kind on a gateway of its own, all at once); throttles counting
//! tokens per minute, for a tenant and for a route; and, on two replicas
//! sharing one Redis (ignored without redis-server), each kind created on
//! one replica applied by the other and reverted through it.

use std::time::Duration;

use serde_json::{Value, json};
use signalbox_testkit::chat_body;

use super::{Ops, admin_on, create_on, revert_on};
use crate::header;

/// How a test sees that an action is in force.
#[derive(Clone)]
enum Probe {
    /// `GET /admin/routes` names it as holding primary-route.
    Holds,
    /// The answer to this chat body names it (header or body), the first
    /// or the second time it is sent (a throttle admits the first request
    /// of a full allowance).
    Names(Value),
}

fn tools_body() -> Value {
    json!({
        "model": "chat",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    })
}

/// One action of each kind (and target), with its probe.
fn kinds() -> Vec<(Value, Probe)> {
    let chat = || Probe::Names(chat_body("chat", "hi"));
    vec![
        (
            json!({"kind": "drain", "route": "primary-route"}),
            Probe::Holds,
        ),
        (
            json!({"kind": "force-open", "route": "primary-route"}),
            Probe::Holds,
        ),
        (
            json!({"kind": "force-close", "route": "primary-route"}),
            Probe::Holds,
        ),
        (
            json!({"kind": "throttle", "target": {"tenant": "acme"}, "requests-per-minute": 1000}),
            chat(),
        ),
        (
            json!({"kind": "throttle", "target": {"route": "primary-route"}, "tokens-per-minute": 1}),
            chat(),
        ),
        (
            json!({"kind": "disable-tools", "target": {"tenant": "acme"}}),
            Probe::Names(tools_body()),
        ),
        (
            json!({"kind": "disable-tools", "target": {"intent": "general"}}),
            Probe::Names(tools_body()),
        ),
        (
            json!({"kind": "fail-closed", "target": {"alias": "chat"}}),
            chat(),
        ),
        (
            json!({"kind": "fail-closed", "target": {"intent": "general"}}),
            chat(),
        ),
        (json!({"kind": "escalate", "intent": "general"}), chat()),
        (
            json!({"kind": "pin", "alias": "chat", "route": "secondary-route"}),
            chat(),
        ),
    ]
}

/// Whether action `id` is in force on `gateway`, as `probe` sees it.
async fn in_force(
    ops: &Ops,
    gateway: &signalbox_gateway::GatewayHandle,
    probe: &Probe,
    id: &str,
) -> bool {
    match probe {
        Probe::Holds => {
            let (_, routes) = admin_on(
                &ops.client,
                gateway,
                reqwest::Method::GET,
                "/admin/routes",
                "viewer",
                None,
            )
            .await;
            routes["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["route"] == "primary-route" && r["operator"]["id"] == id)
        }
        Probe::Names(body) => {
            for _ in 0..2 {
                let r = ops.chat_on(gateway, body, &[]).await;
                let named = header(&r, "x-signalbox-operator-actions")
                    .split(',')
                    .any(|a| a.trim() == id);
                if named || r.text().await.unwrap_or_default().contains(id) {
                    return true;
                }
            }
            false
        }
    }
}

/// Polls `in_force` until it answers `want` (actions reach other
/// replicas and expire asynchronously).
async fn becomes(
    ops: &Ops,
    gateway: &signalbox_gateway::GatewayHandle,
    probe: &Probe,
    id: &str,
    want: bool,
) -> bool {
    for _ in 0..150 {
        if in_force(ops, gateway, probe, id).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    false
}

/// One kind: created with a 3 s TTL, in force, still in force after a
/// reload, then gone by itself.
async fn lives_and_expires(action: Value, probe: Probe) {
    let ops = Ops::start().await;
    let (status, created) = ops
        .act("oncall", action.clone(), "incident", Some("3s"))
        .await;
    assert_eq!(status, 201, "{action}: {created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(
        in_force(&ops, &ops.gateway, &probe, &id).await,
        "{action}: in force once created"
    );
    ops.reload_changed().await;
    assert!(
        in_force(&ops, &ops.gateway, &probe, &id).await,
        "{action}: in force after a reload"
    );
    assert!(
        becomes(&ops, &ops.gateway, &probe, &id, false).await,
        "{action}: expired by itself"
    );
    let (_, list) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(list["actions"], json!([]), "{action}");
}

#[tokio::test]
async fn every_kind_is_in_force_survives_a_reload_and_expires_by_itself() {
    let mut all = tokio::task::JoinSet::new();
    for (action, probe) in kinds() {
        all.spawn(lives_and_expires(action, probe));
    }
    while let Some(done) = all.join_next().await {
        done.unwrap();
    }
}

#[tokio::test]
async fn disabled_tools_in_a_flow_switched_to_fail_closed_are_refused() {
    let ops = Ops::start().await;
    let mut ids = Vec::new();
    for action in [
        json!({"kind": "fail-closed", "target": {"alias": "chat"}}),
        json!({"kind": "disable-tools", "target": {"intent": "general"}}),
    ] {
        let (status, created) = ops.act("oncall", action, "tool misuse", None).await;
        assert_eq!(status, 201, "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let r = ops.chat_on(&ops.gateway, &tools_body(), &[]).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "fail_closed", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&ids[1]),
        "names the disable-tools action: {body}"
    );
    assert_eq!(
        ops.primary.stats().requests + ops.secondary.stats().requests,
        0
    );
}

/// A chat body asking for up to `max_tokens` output tokens.
fn sized(max_tokens: u64) -> Value {
    let mut body = chat_body("chat", "hi");
    body["max_tokens"] = json!(max_tokens);
    body
}

// Tokens per minute: three small requests fit in 200 (each a few prompt
// tokens), then one asking for 190 output tokens does not; a requests
// limit could not tell them apart.

#[tokio::test]
async fn a_tenant_throttled_in_tokens_per_minute_is_refused_by_size() {
    let ops = Ops::start().await;
    let action =
        json!({"kind": "throttle", "target": {"tenant": "acme"}, "tokens-per-minute": 200});
    let (status, created) = ops.act("oncall", action, "runaway tenant", None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(ops.chat(&[]).await.status(), 200);
    }
    let r = ops.chat_on(&ops.gateway, &sized(190), &[]).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "tenant_limit", "{body}");
    assert!(body.to_string().contains("tokens-per-minute"), "{body}");
}

#[tokio::test]
async fn a_route_throttled_in_tokens_per_minute_is_skipped_by_size() {
    let ops = Ops::start().await;
    let action =
        json!({"kind": "throttle", "target": {"route": "primary-route"}, "tokens-per-minute": 200});
    let (status, created) = ops.act("oncall", action, "quota", None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    for _ in 0..3 {
        let r = ops.chat(&[]).await;
        assert_eq!(header(&r, "x-signalbox-route"), "primary-route");
    }
    let r = ops.chat_on(&ops.gateway, &sized(190), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    assert_eq!(ops.primary.stats().requests, 3);
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn every_kind_created_on_one_replica_applies_on_the_other() {
    let ops = Ops::start().await;
    let (_redis, a, b) = super::replicas(&ops, "every:").await;
    for (action, probe) in kinds() {
        let (status, created) = create_on(&ops.client, &a, action.clone()).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(
            becomes(&ops, &b, &probe, &id, true).await,
            "{action}: replica b applies it"
        );
        let status = revert_on(&ops.client, &b, &id).await;
        assert_eq!(status, 200, "{action}: reverted through replica b");
        assert!(
            becomes(&ops, &a, &probe, &id, false).await,
            "{action}: replica a sees the revert"
        );
    }
}
