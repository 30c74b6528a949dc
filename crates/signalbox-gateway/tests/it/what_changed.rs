//! "What changed?" end to end, against mocks on port 0: a breaker tripped
//! by a failing mock becomes an event in the audit trail and in
//! `GET /admin/what-changed`; a model version the provider starts
//! answering with (the mock's `model_version` fault, switched at run time)
//! and an operator action are both named, the model first; a bad window is
//! a 400 naming its parameter, an empty one changes nothing, and the
//! configuration text of the serving version is kept, its secrets only as
//! references.

use std::time::Duration;

use serde_json::{Value, json};
use signalbox_core::clock::unix_ms;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body, stream_body};

use crate::header;

const CONFIG: &str = r#"
resilience:
  health-check: { mode: off }
  breaker: { consecutive-failures: 2, min-requests: 100, open-for: 30s }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}", api-key: { env: PRIMARY_KEY } }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
routes:
  - { id: primary-route, provider: primary, model: m, region: us }
  - { id: secondary-route, provider: secondary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary-route, secondary-route] }
admin:
  token: { env: ADMIN_TOKEN }
  tokens:
    - { name: oncall, role: operator, token: { env: ONCALL_TOKEN } }
    - { name: viewer, role: read-only, token: { env: VIEWER_TOKEN } }
"#;

async fn start() -> Harness {
    let vars = [
        ("PRIMARY_KEY", "sk-very-secret-primary".to_owned()),
        ("ADMIN_TOKEN", "adm".to_owned()),
        ("ONCALL_TOKEN", "oncall".to_owned()),
        ("VIEWER_TOKEN", "viewer".to_owned()),
    ];
    Harness::start(CONFIG, &["primary", "secondary"], &vars).await
}

async fn served_by(h: &Harness, text: &str) -> String {
    let resp = h.chat(&chat_body("chat", text)).await;
    assert_eq!(resp.status(), 200, "{text}");
    header(&resp, "x-signalbox-route").to_string()
}

/// Creates `action` as the operator `oncall`; the action created.
async fn act(h: &Harness, action: Value, reason: &str) -> Value {
    let resp = reqwest::Client::new()
        .post(h.url("/admin/actions"))
        .bearer_auth("oncall")
        .json(&json!({"action": action, "reason": reason}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// `GET path`, with the bearer `token` when given.
async fn get_as(h: &Harness, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(h.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The changes `GET /admin/what-changed?{query}` lists, as (kind, what).
async fn changes(h: &Harness, query: &str) -> Vec<(String, String)> {
    let report = h
        .admin_json(&format!("/admin/what-changed?{query}"), "viewer")
        .await;
    let Some(list) = report["changes"].as_array() else {
        panic!("no changes in {report}");
    };
    list.iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("what"))
        })
        .collect()
}

#[tokio::test]
async fn a_tripped_breaker_is_an_event_in_the_audit_trail_and_what_changed() {
    let h = start().await;
    let since = unix_ms();
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    for i in 0..3 {
        assert_eq!(served_by(&h, &format!("b-{i}")).await, "secondary-route");
    }
    let want = "route primary-route breaker closed → open: 2 failures in a row";
    let mut found = None;
    for _ in 0..100 {
        let audit = h.admin_json("/admin/audit?limit=50", "viewer").await;
        found = audit["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| {
                let detail = e["detail"].as_str()?;
                (e["who"] == "signalbox-breaker" && detail.starts_with(want)).then(|| e.clone())
            });
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Some(entry) = found else {
        panic!("no breaker event in the audit trail")
    };
    assert_eq!(entry["role"], "system");
    assert_eq!(entry["path"], "/breaker/primary-route");
    assert_eq!(entry["reason"], "open");
    let listed = changes(&h, &format!("since={since}&until={}", unix_ms() + 1)).await;
    assert!(
        listed
            .iter()
            .any(|(k, w)| k == "event" && w.starts_with(&format!("signalbox-breaker: {want}"))),
        "{listed:#?}"
    );
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics
            .contains(r#"signalbox_breaker_transitions_total{route="primary-route",to="open"} 1"#),
        "{metrics}"
    );
    // An operator forcing the breaker is a breaker event too.
    act(
        &h,
        json!({"kind": "force-close", "route": "primary-route"}),
        "false alarm",
    )
    .await;
    let forced = "route primary-route breaker forced closed by oncall";
    let mut seen = false;
    for _ in 0..100 {
        let listed = changes(&h, &format!("since={since}&until={}", unix_ms() + 1)).await;
        seen = listed
            .iter()
            .any(|(k, w)| k == "event" && w.contains(forced) && w.contains("false alarm"));
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "no forced-closed event");
    h.stop().await;
}

/// A breaker flapping open / half-open / open many times a second: every
/// transition is counted, but the audit trail keeps only a few a minute
/// (the rest counted as suppressed, summarised when the minute ends).
#[tokio::test]
async fn a_flapping_breaker_does_not_flood_the_audit_trail() {
    let config = CONFIG.replace("open-for: 30s", "open-for: 20ms");
    let vars = [
        ("PRIMARY_KEY", "k".to_owned()),
        ("ADMIN_TOKEN", "adm".to_owned()),
        ("ONCALL_TOKEN", "oncall".to_owned()),
        ("VIEWER_TOKEN", "viewer".to_owned()),
    ];
    let h = Harness::start(&config, &["primary", "secondary"], &vars).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    for i in 0..30 {
        assert_eq!(served_by(&h, &format!("f-{i}")).await, "secondary-route");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let suppressed = |m: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("signalbox_breaker_events_suppressed_total{route=\"primary-route\"}")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
    };
    let (_, metrics) = h.get("/metrics").await;
    let Some(n) = suppressed(&metrics) else {
        panic!("no suppressed count: {metrics}")
    };
    assert!(n >= 10, "{n} suppressed: the breaker did not flap?");
    // Written by a background task: wait until the kept ones are in.
    let mut kept = 0;
    for _ in 0..100 {
        let audit = h.admin_json("/admin/audit?limit=500", "viewer").await;
        kept = audit["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["who"] == "signalbox-breaker")
            .count();
        if kept >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kept, 6, "six kept in the minute, not one per transition");
    h.stop().await;
}

#[tokio::test]
async fn what_changed_finds_an_injected_model_version_change_and_an_operator_action() {
    let h = start().await;
    for i in 0..3 {
        assert_eq!(served_by(&h, &format!("old-{i}")).await, "primary-route");
    }
    // The window explained starts now and is long; the one before it, as
    // long, holds the requests above.
    let mid = unix_ms();
    let until = mid + 600_000;
    h.mock("primary").set_faults(Faults {
        model_version: Some("m-2026-12-01".into()),
        ..Faults::default()
    });
    let action = act(
        &h,
        json!({"kind": "drain", "route": "secondary-route"}),
        "provider incident",
    )
    .await;
    let id = action["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        assert_eq!(served_by(&h, &format!("new-{i}")).await, "primary-route");
    }
    // A stream's first event names the model too.
    let stream = h.chat(&stream_body("chat", "new-stream")).await;
    assert_eq!(header(&stream, "x-signalbox-route"), "primary-route");
    assert!(stream.text().await.unwrap().contains("m-2026-12-01"));
    let kept = h
        .admin_json("/admin/decisions?model_version=m-2026-12-01", "viewer")
        .await;
    assert_eq!(
        kept["decisions"].as_array().map(Vec::len),
        Some(4),
        "the records keep the version the provider answered with: {kept}"
    );
    let listed = changes(&h, &format!("since={mid}&until={until}&alias=chat")).await;
    assert_eq!(
        listed[0],
        (
            "model".to_owned(),
            "route primary-route reports model version m-2026-12-01 (was m) (4 requests)"
                .to_owned()
        ),
        "{listed:#?}"
    );
    let operator = listed
        .iter()
        .find(|(k, _)| k == "operator")
        .unwrap_or_else(|| panic!("no operator action in {listed:#?}"));
    assert!(
        operator.1.contains(&id)
            && operator.1.contains("by oncall")
            && operator.1.contains("drain route secondary-route")
            && operator.1.contains("provider incident"),
        "{operator:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_bad_window_is_a_400_naming_it_and_an_empty_one_changes_nothing() {
    let h = start().await;
    for (query, param) in [
        ("since=yesterday-ish", "since"),
        ("since=10m&until=20m", "until"),
        ("until=not-a-time", "until"),
        ("since=90d", "since"),
    ] {
        let resp = get_as(&h, &format!("/admin/what-changed?{query}"), Some("viewer")).await;
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_window", "{query}");
        assert_eq!(body["error"]["param"], param, "{query}");
    }
    let resp = get_as(&h, "/admin/what-changed?bogus=1", Some("viewer")).await;
    assert_eq!(resp.status(), 400, "an unknown parameter");
    let report = h
        .admin_json("/admin/what-changed?since=1000&until=2000", "viewer")
        .await;
    assert_eq!(report["changes"], json!([]), "{report}");
    assert_eq!(report["after"]["requests"], 0);
    let resp = get_as(&h, "/admin/what-changed", None).await;
    assert_eq!(resp.status(), 401, "no token, no answer");
    h.stop().await;
}

#[tokio::test]
async fn the_serving_configuration_text_is_kept_with_secrets_as_references() {
    let h = start().await;
    let version = h.gateway.gateway().policy_version();
    let kept = h
        .admin_json(&format!("/admin/config-versions/{version}"), "viewer")
        .await;
    let text = kept["text"].as_str().unwrap_or_default();
    assert!(text.contains("api-key: { env: PRIMARY_KEY }"), "{kept}");
    assert!(
        text.contains("${PRIMARY_URL}"),
        "interpolation is kept as written"
    );
    assert!(
        !text.contains("sk-very-secret-primary"),
        "never a secret's value"
    );
    let missing = get_as(&h, "/admin/config-versions/nope", Some("viewer")).await;
    assert_eq!(missing.status(), 404);
    h.stop().await;
}
