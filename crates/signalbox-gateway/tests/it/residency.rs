//! The shipped `examples/residency.yaml`: tenants from API keys, regions as
//! hard constraints, refusals instead of non-compliant fallbacks, headers
//! that can only narrow, and the decision records that explain it all.

use serde_json::Value;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body};

use crate::header;

const RESIDENCY: &str = include_str!("../../../../examples/residency.yaml");
pub(crate) const ADMIN: &str = "admin-token-for-tests";

pub(crate) async fn residency() -> Harness {
    Harness::start(
        RESIDENCY,
        &["us", "eu"],
        &[
            ("ACME_KEY", "acme-key".into()),
            ("GLOBEX_KEY", "globex-key".into()),
            ("ADMIN_TOKEN", ADMIN.into()),
        ],
    )
    .await
}

pub(crate) async fn call(
    h: &Harness,
    key: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = h
        .client
        .post(h.url("/v1/chat/completions"))
        .json(&chat_body("chat", "hello"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

pub(crate) async fn admin_get(h: &Harness, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = h.client.get(h.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn acme_is_always_served_from_the_eu() {
    let h = residency().await;
    for _ in 0..5 {
        let resp = call(&h, Some("acme-key"), &[]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-signalbox-route"), "eu");
    }
    assert_eq!(h.mock("us").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn acme_gets_a_refusal_not_a_us_answer_when_the_eu_is_down() {
    let h = residency().await;
    for faults in [
        Faults {
            error_rate: 1.0,
            error_status: 503,
            ..Faults::default()
        },
        Faults {
            rate_limit_retry_after_secs: Some(5),
            ..Faults::default()
        },
    ] {
        h.mock("eu").set_faults(faults);
        let resp = call(&h, Some("acme-key"), &[]).await;
        assert!(resp.status().is_server_error(), "{}", resp.status());
        let body: Value = resp.json().await.unwrap();
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("no compliant fallback"), "{msg}");
        assert!(msg.contains("region us ∉ [eu]"), "{msg}");
        assert_eq!(
            body["signalbox"]["excluded_by_policy"][0],
            "us: region us ∉ [eu] ✗"
        );
    }
    h.mock("eu").shutdown();
    let resp = call(&h, Some("acme-key"), &[]).await;
    assert_eq!(
        resp.status(),
        503,
        "connection refused everywhere compliant"
    );
    assert_eq!(
        h.mock("us").stats().requests,
        0,
        "acme's data must never reach the US"
    );
    h.stop().await;
}

#[tokio::test]
async fn acme_asking_for_the_us_is_forbidden() {
    let h = residency().await;
    let resp = call(&h, Some("acme-key"), &[("x-signalbox-region", "us")]).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "policy_forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not request region us")
    );
    assert_eq!(
        h.mock("us").stats().requests + h.mock("eu").stats().requests,
        0
    );
    h.stop().await;
}

#[tokio::test]
async fn globex_prefers_the_us_and_falls_back_to_the_eu() {
    let h = residency().await;
    let resp = call(&h, Some("globex-key"), &[]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "us");
    h.mock("us").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    let resp = call(&h, Some("globex-key"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "eu");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "2");
    // Globex may narrow itself to the EU.
    h.mock("us").set_faults(Faults::default());
    let resp = call(&h, Some("globex-key"), &[("x-signalbox-region", "eu")]).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "eu");
    h.stop().await;
}

#[tokio::test]
async fn keys_are_required() {
    let h = residency().await;
    let resp = call(&h, None, &[]).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(call(&h, Some("wrong"), &[]).await.status(), 401);
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-api-key", "acme-key")
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "x-api-key works like a bearer token");
    h.stop().await;
}

#[tokio::test]
async fn decision_records_are_complete_and_queryable() {
    let h = residency().await;
    let resp = call(
        &h,
        Some("acme-key"),
        &[("x-request-id", "rec-1"), ("x-signalbox-intent", "search")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let _ = call(&h, Some("globex-key"), &[("x-request-id", "rec-2")]).await;
    let _ = call(
        &h,
        Some("acme-key"),
        &[("x-request-id", "rec-3"), ("x-signalbox-region", "us")],
    )
    .await;

    assert_eq!(admin_get(&h, "/admin/decisions/rec-1", None).await.0, 401);
    assert_eq!(
        admin_get(&h, "/admin/decisions/rec-1", Some("acme-key"))
            .await
            .0,
        401,
        "tenant keys are not admin"
    );
    let (status, rec) = admin_get(&h, "/admin/decisions/rec-1", Some(ADMIN)).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["tenant"], "acme");
    assert_eq!(rec["chosen"], "eu");
    assert_eq!(rec["outcome"], "served");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["alias"], "chat");
    assert_eq!(rec["policy_version"].as_str().unwrap().len(), 12);
    let signals = rec["signals"].as_array().unwrap();
    let signal = |name: &str| {
        signals
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(signal("tenant")["source"], "key");
    assert_eq!(signal("intent")["value"], "search");
    assert_eq!(signal("intent")["source"], "header");
    assert_eq!(signal("prompt_tokens")["source"], "body");
    let us = rec["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["route"] == "us")
        .unwrap()
        .clone();
    assert_eq!(us["eligible"], false);
    assert!(
        us["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["detail"] == "region us ∉ [eu] ✗")
    );
    assert_eq!(rec["ranking"], serde_json::json!(["eu"]));
    assert_eq!(rec["attempts"][0]["route"], "eu");
    assert!(rec["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(
        rec.get("content").is_none(),
        "no prompt text unless the tenant allows it"
    );

    let (_, forbidden) = admin_get(&h, "/admin/decisions/rec-3", Some(ADMIN)).await;
    assert_eq!(forbidden["outcome"], "refused");
    assert_eq!(forbidden["status"], 403);

    let (status, list) = admin_get(&h, "/admin/decisions?tenant=acme", Some(ADMIN)).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["caller_request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["rec-3", "rec-1"]);
    let (_, list) = admin_get(&h, "/admin/decisions?route=us", Some(ADMIN)).await;
    assert_eq!(list["decisions"].as_array().unwrap().len(), 1);
    let (_, list) = admin_get(&h, "/admin/decisions?outcome=refused", Some(ADMIN)).await;
    assert_eq!(list["decisions"][0]["caller_request_id"], "rec-3");
    assert_eq!(
        admin_get(&h, "/admin/decisions?bogus=1", Some(ADMIN))
            .await
            .0,
        400
    );
    assert_eq!(
        admin_get(&h, "/admin/decisions/nope", Some(ADMIN)).await.0,
        404
    );
    h.stop().await;
}

/// Residency and failover hold on every endpoint of the chat pipeline,
/// not only chat: Responses, legacy completions and Anthropic Messages.
#[tokio::test]
async fn every_endpoint_keeps_the_tenants_regions_and_fails_over_within_them() {
    let h = residency().await;
    let bodies = [
        (
            "/v1/responses",
            serde_json::json!({"model": "chat", "input": "hello"}),
        ),
        (
            "/v1/completions",
            serde_json::json!({"model": "chat", "prompt": "hello"}),
        ),
        (
            "/v1/messages",
            serde_json::json!({"model": "chat", "max_tokens": 16,
                "messages": [{"role": "user", "content": "hello"}]}),
        ),
    ];
    let post = |path: &str, body: &Value, key: &str| {
        h.client
            .post(h.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
    };
    for (path, body) in &bodies {
        let resp = post(path, body, "acme-key").await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "x-signalbox-route"), "eu", "{path}");
    }
    // Globex: the US down, the EU serves (failover, marked).
    h.mock("us").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    for (path, body) in &bodies {
        let resp = post(path, body, "globex-key").await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "x-signalbox-route"), "eu", "{path}");
        assert_eq!(header(&resp, "x-signalbox-attempts"), "2", "{path}");
    }
    // Acme: the EU down is a refusal, never a US answer.
    h.mock("us").set_faults(Faults::default());
    h.mock("eu").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let us_before = h.mock("us").stats().requests;
    for (path, body) in &bodies {
        let resp = post(path, body, "acme-key").await.unwrap();
        assert!(resp.status().is_server_error(), "{path}: {}", resp.status());
    }
    assert_eq!(
        h.mock("us").stats().requests,
        us_before,
        "acme reached the US"
    );
    h.stop().await;
}
