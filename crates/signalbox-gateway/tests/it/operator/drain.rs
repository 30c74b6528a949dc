//! Drains: new traffic moves, requests in flight finish, the record and
//! explain name the action; listing, reverting once, the audit trail;
//! expiry, reload survival, and two replicas on one Redis.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use signalbox_mock::Faults;
use signalbox_testkit::chat_body;

use super::{Ops, admin_on, drain};
use crate::header;

#[tokio::test]
async fn a_drain_moves_new_traffic_while_a_request_in_flight_finishes() {
    let ops = Arc::new(Ops::start().await);
    ops.primary.set_faults(Faults {
        latency_ms: 800,
        ..Faults::default()
    });
    let in_flight = {
        let ops = Arc::clone(&ops);
        tokio::spawn(async move {
            let r = ops.chat(&[]).await;
            (
                r.status().as_u16(),
                header(&r, "x-signalbox-route").to_string(),
            )
        })
    };
    for _ in 0..200 {
        if ops.primary.stats().requests == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        ops.primary.stats().requests,
        1,
        "the first request is on primary"
    );
    let (status, action) = ops
        .act(
            "oncall",
            drain("primary-route"),
            "provider incident",
            Some("30m"),
        )
        .await;
    assert_eq!(status, 201, "{action}");
    let id = action["id"].as_str().unwrap().to_string();
    assert_eq!(action["who"], json!({"name": "oncall", "role": "operator"}));
    assert!(action["expires_ms"].as_u64().unwrap() > action["created_ms"].as_u64().unwrap());

    let r = ops.chat(&[("x-request-id", "after-drain")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    assert_eq!(header(&r, "x-signalbox-degraded"), "fallback-route");
    assert_eq!(
        in_flight.await.unwrap(),
        (200, "primary-route".into()),
        "in flight finished"
    );
    assert_eq!(
        ops.primary.stats().requests,
        1,
        "no new request on the drained route"
    );

    // Explained in the record: the skip is typed and names the action.
    let (_, found) = ops
        .admin(
            reqwest::Method::GET,
            "/admin/decisions/after-drain",
            "viewer",
            None,
        )
        .await;
    assert_eq!(found["skipped"][0]["kind"], "operator");
    assert_eq!(found["skipped"][0]["action"], id.as_str());
    assert_eq!(found["operator_actions"], json!([id]));
    let explained = signalbox_decision_log::explain(&serde_json::from_value(found).unwrap());
    assert!(explained.contains(&id), "{explained}");
    // "What did this action change?" is one query.
    let (status, changed) = ops
        .admin(
            reqwest::Method::GET,
            &format!("/admin/decisions?action={id}&degraded=fallback-route"),
            "viewer",
            None,
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let changed = changed["decisions"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["caller_request_id"], "after-drain");
    let (status, groups) = ops
        .admin(
            reqwest::Method::GET,
            "/admin/decisions?group_by=route",
            "viewer",
            None,
        )
        .await;
    assert_eq!(status, 200, "{groups}");
    let keys: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"secondary-route"), "{groups}");
    let (status, e) = ops
        .admin(
            reqwest::Method::GET,
            "/admin/decisions?group_by=colour",
            "viewer",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model_version"),
        "{e}"
    );
}

#[tokio::test]
async fn an_action_is_listed_shown_on_its_route_reverted_once_and_audited() {
    let ops = Ops::start().await;
    let (status, action) = ops
        .act(
            "oncall",
            drain("primary-route"),
            "provider incident",
            Some("30m"),
        )
        .await;
    assert_eq!(status, 201, "{action}");
    let id = action["id"].as_str().unwrap().to_string();
    // Listed and shown on the route; then reverted with a reason.
    let (status, list) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["actions"][0]["id"], id.as_str());
    let (_, routes) = ops
        .admin(reqwest::Method::GET, "/admin/routes", "viewer", None)
        .await;
    assert_eq!(routes["routes"][0]["operator"]["id"], id.as_str());
    let path = format!("/admin/actions/{id}");
    let (status, done) = ops
        .admin(
            reqwest::Method::DELETE,
            &path,
            "oncall",
            Some(json!({"reason": "provider recovered"})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["reverted"]["id"], id.as_str());
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "primary-route");
    let (status, _) = ops
        .admin(
            reqwest::Method::DELETE,
            &path,
            "oncall",
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(status, 404, "reverted once");
    let metrics = ops
        .client
        .get(format!("{}/metrics", ops.gateway.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for event in ["created", "reverted"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("signalbox_operator_actions_total{")
                    && l.contains(&format!("event=\"{event}\""))
                    && l.contains("kind=\"drain\"")
                    && l.ends_with(" 1")),
            "{metrics}"
        );
    }

    // Every call is audited with who and why.
    let (_, audit) = ops
        .admin(reqwest::Method::GET, "/admin/audit", "adm", None)
        .await;
    let entries = audit["audit"].as_array().unwrap();
    let created = entries
        .iter()
        .find(|e| e["method"] == "POST" && e["status"] == 201)
        .unwrap();
    assert_eq!(created["who"], "oncall");
    assert_eq!(created["reason"], "provider incident");
    assert_eq!(created["action"], id.as_str());
    assert!(
        entries
            .iter()
            .any(|e| e["method"] == "DELETE" && e["reason"] == "provider recovered")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["method"] == "GET" && e["who"] == "viewer")
    );
}

#[tokio::test]
async fn an_action_expires_by_itself_and_survives_a_reload() {
    let ops = Ops::start().await;
    let (status, _) = ops
        .act("drainer", drain("primary-route"), "maintenance", Some("1s"))
        .await;
    assert_eq!(status, 201);
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    let mut restored = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if header(&ops.chat(&[]).await, "x-signalbox-route") == "primary-route" {
            restored = true;
            break;
        }
    }
    assert!(restored, "the drain expired by itself");
    let (_, list) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(list["actions"], json!([]));

    // A drain without a TTL outlives a reload (it lives in the state).
    let before = ops.primary.stats().requests;
    let (status, _) = ops
        .act("oncall", drain("primary-route"), "incident", None)
        .await;
    assert_eq!(status, 201);
    let reloaded = ops.reload_changed().await;
    let r = ops.chat(&[]).await;
    assert_eq!(
        header(&r, "x-signalbox-route"),
        "secondary-route",
        "still drained after reload"
    );
    assert_eq!(ops.primary.stats().requests, before);
    // Both configurations are kept by version, for what-changed's diff.
    let reader = ops
        .gateway
        .gateway()
        .decision_log()
        .unwrap()
        .reader()
        .unwrap();
    let version = reloaded["policy_version"].as_str().unwrap();
    let summary = reader.config_summary(version).unwrap().unwrap();
    assert!(
        summary.contains("alias chat2 -> secondary-route"),
        "{summary}"
    );
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn two_replicas_on_one_redis_see_the_same_action() {
    let ops = Ops::start().await;
    let (_redis, a, b) = super::replicas(&ops, "ops:").await;
    let (status, created) = super::create_on(&ops.client, &a, drain("primary-route")).await;
    assert_eq!(status, 201, "{created}");
    let (_, listed) = admin_on(
        &ops.client,
        &b,
        reqwest::Method::GET,
        "/admin/actions",
        "viewer",
        None,
    )
    .await;
    assert_eq!(
        listed["actions"][0]["id"], created["id"],
        "replica b lists it"
    );
    let mut applied = false;
    for _ in 0..100 {
        let r = ops.chat_on(&b, &chat_body("chat", "hi"), &[]).await;
        if header(&r, "x-signalbox-route") == "secondary-route" {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(applied, "replica b applies replica a's drain");
    let status = super::revert_on(&ops.client, &b, created["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "reverted through the other replica");
    let mut back = false;
    for _ in 0..100 {
        let r = ops.chat_on(&a, &chat_body("chat", "hi"), &[]).await;
        if header(&r, "x-signalbox-route") == "primary-route" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back, "replica a sees the revert");
}
