//! Canary rollouts against the mocks: a new model version behind its own
//! route is promoted step by step on clean windows until it completes, and
//! rolled back at once when its mock starts failing; each step is an event
//! in `GET /admin/canary` and the audit trail, and each request's record
//! says which arm it got and why.

use std::time::Duration;

use serde_json::Value;
use signalbox_core::SkipKind;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body};

use crate::header;

const CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: old, kind: openai-compatible, base-url: "${OLD_URL}" }
  - { name: new, kind: openai-compatible, base-url: "${NEW_URL}" }
routes:
  - { id: old-route, provider: old, model: m, version: v1, region: us }
  - { id: new-route, provider: new, model: m, version: v2, region: us }
aliases:
  - { name: chat, routes: [old-route, new-route] }
canary:
  - name: v2-rollout
    alias: chat
    baseline: old-route
    canary: new-route
    steps: [25, 50, 100]
    window: { min-requests: 3, min-duration: 1s }
"#;

async fn start() -> Harness {
    Harness::start(
        CONFIG,
        &["old", "new"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await
}

async fn admin(h: &Harness, path: &str) -> Value {
    h.admin_json(path, "admin-secret").await
}

async fn status(h: &Harness) -> Value {
    admin(h, "/admin/canary").await["canaries"][0].clone()
}

/// One request in session `session`; the route that served it ("" when
/// none did).
async fn ask(h: &Harness, session: &str) -> String {
    let resp = h
        .chat_with(
            &chat_body("chat", "hi"),
            &[("x-signalbox-session", session), ("x-request-id", session)],
        )
        .await;
    header(&resp, "x-signalbox-route").to_owned()
}

/// Sends requests in fresh sessions until the canary's phase is `phase`.
async fn drive_until(h: &Harness, phase: &str) -> Value {
    for i in 0..600 {
        let s = status(h).await;
        if s["phase"] == phase {
            return s;
        }
        ask(h, &format!("s-{phase}-{i}")).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the canary never reached {phase}: {}", status(h).await);
}

#[tokio::test]
async fn clean_windows_promote_the_canary_to_completion() {
    let h = start().await;
    assert_eq!(status(&h).await["share_percent"], 25.0);
    let s = drive_until(&h, "completed").await;
    let events: Vec<&str> = s["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["started", "promoted", "completed"], "{s}");
    assert_eq!(s["events"][1]["from_percent"], 25.0);
    assert_eq!(s["events"][1]["to_percent"], 50.0);
    assert!(
        s["events"][1]["evidence"]
            .as_str()
            .unwrap()
            .starts_with("clean window"),
        "{s}"
    );
    // At 100 % every session is in the canary arm, and its record says so.
    assert_eq!(ask(&h, "after-completion").await, "new-route");
    let record = h.record("after-completion").await;
    let skip = record.skipped.first().unwrap();
    assert_eq!(
        (skip.route.as_str(), skip.kind),
        ("old-route", SkipKind::Canary)
    );
    assert!(
        skip.reason.starts_with("canary v2-rollout: canary arm"),
        "{}",
        skip.reason
    );
    let canary = record.canary.clone().unwrap_or_default();
    assert!(canary.starts_with("v2-rollout: canary arm"), "{canary}");
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics
            .contains(r#"signalbox_canary_events_total{canary="v2-rollout",event="completed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"signalbox_canary_share_percent{canary="v2-rollout"} 100"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_canary_is_rolled_back_with_its_evidence() {
    let h = start().await;
    // The new model version fails every call (injected by the mock).
    h.mock("new").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    let s = drive_until(&h, "rolled_back").await;
    assert_eq!(s["share_percent"], 0.0);
    let last = s["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "rolled_back");
    assert_eq!(
        (last["from_percent"].as_f64(), last["to_percent"].as_f64()),
        (Some(25.0), Some(0.0))
    );
    let evidence = last["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with("error rate 100.0% vs 0.0%"),
        "{evidence}"
    );
    // Every session is back on the baseline, and its record says why.
    for i in 0..10 {
        assert_eq!(ask(&h, &format!("after-{i}")).await, "old-route");
    }
    let record = h.record("after-3").await;
    let skip = record.skipped.first().unwrap();
    assert_eq!(
        (skip.route.as_str(), skip.kind),
        ("new-route", SkipKind::Canary)
    );
    assert!(
        skip.reason.starts_with("canary v2-rollout: baseline arm"),
        "{}",
        skip.reason
    );
    // The step is in the audit trail, with its evidence.
    let mut audited = Value::Null;
    for _ in 0..100 {
        let audit = admin(&h, "/admin/audit").await;
        if let Some(e) = audit["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["who"] == "signalbox-canary" && e["reason"] == "rolled_back")
        {
            audited = e.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(audited["path"], "/canary/v2-rollout", "{audited}");
    assert!(
        audited["detail"].as_str().unwrap().contains("error rate"),
        "{audited}"
    );
}

#[tokio::test]
async fn one_session_stays_in_one_arm() {
    let h = start().await;
    for session in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        let step = status(&h).await["step"].clone();
        let first = ask(&h, session).await;
        for _ in 0..3 {
            let again = ask(&h, session).await;
            // A promotion may move a baseline session into the canary
            // (the share grows), never a canary session out of it.
            let promoted = status(&h).await["step"] != step;
            if !(promoted && first == "old-route") {
                assert_eq!(again, first, "{session} changed arm");
            }
        }
    }
}

const PROMPT_CONFIG: &str = r#"
admin: { token: { env: ADMIN_TOKEN } }
providers:
  - { name: old, kind: openai-compatible, base-url: "${OLD_URL}" }
routes:
  - { id: only-route, provider: old, model: m, region: us, breaker: { consecutive-failures: 1000, error-rate: 1.0, min-requests: 1000 } }
aliases:
  - { name: chat, routes: [only-route] }
prompts:
  - id: support
    default-version: v1
    versions:
      - { version: v1, template: "You help with {{product}}." }
      - { version: v2, template: "You help with {{product}}. Answer in TERSE MODE." }
canary:
  - name: support-v2
    alias: chat
    prompt: support
    baseline: v1
    canary: v2
    steps: [30, 100]
    window: { min-requests: 3, min-duration: 1s }
"#;

/// One request using the registered prompt without naming a version; its
/// status and the version it got.
async fn ask_prompt(h: &Harness, session: &str) -> (u16, String) {
    let resp = h
        .chat_with(
            &chat_body("chat", "hi"),
            &[
                ("x-signalbox-session", session),
                ("x-request-id", session),
                ("x-signalbox-prompt", "support"),
                ("x-signalbox-prompt-variables", r#"{"product":"Acme"}"#),
            ],
        )
        .await;
    let version = header(&resp, "x-signalbox-prompt-version").to_owned();
    (resp.status().as_u16(), version)
}

#[tokio::test]
async fn a_prompt_version_the_model_cannot_cope_with_is_rolled_back() {
    let h = Harness::start(
        PROMPT_CONFIG,
        &["old"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await;
    // The model fails whatever carries the new prompt's wording.
    h.mock("old").set_faults(Faults {
        fail_when_body_contains: Some("TERSE MODE".into()),
        error_status: 500,
        ..Faults::default()
    });
    let mut arms = std::collections::BTreeSet::new();
    for i in 0..600 {
        if status(&h).await["phase"] == "rolled_back" {
            break;
        }
        let (code, version) = ask_prompt(&h, &format!("p-{i}")).await;
        arms.insert((code, version));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = status(&h).await;
    assert_eq!(s["phase"], "rolled_back", "{s}");
    assert_eq!(s["subject"], "prompt");
    assert_eq!(s["canary"], "support@v2");
    let last = s["events"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["evidence"]
            .as_str()
            .unwrap()
            .starts_with("error rate 100.0% vs 0.0%"),
        "{last}"
    );
    // Both arms were served their own version before the rollback.
    assert!(arms.contains(&(200, "support@v1".to_owned())), "{arms:?}");
    assert!(
        arms.iter().any(|(c, v)| *c >= 500 && v == "support@v2"),
        "{arms:?}"
    );
    // Now every session gets v1, and its record says why.
    for i in 0..5 {
        assert_eq!(
            ask_prompt(&h, &format!("after-{i}")).await,
            (200, "support@v1".to_owned())
        );
    }
    let record = h.record("after-2").await;
    assert_eq!(record.prompt_version.as_deref(), Some("support@v1"));
    let canary = record.canary.unwrap_or_default();
    assert!(canary.starts_with("support-v2: baseline arm"), "{canary}");
}

/// Requests the canary's provider rejects as malformed (400) are the
/// caller's fault, not the arm's: a caller who picks session keys landing in
/// the canary arm cannot roll the canary back (for every replica) with bad
/// requests.
#[tokio::test]
async fn requests_rejected_as_malformed_do_not_roll_the_canary_back() {
    let h = start().await;
    h.mock("new").set_faults(Faults {
        error_rate: 1.0,
        error_status: 400,
        ..Faults::default()
    });
    let mut in_canary = 0;
    for i in 0..200 {
        let session = format!("hostile-{i}");
        ask(&h, &session).await;
        let arm = h.record(&session).await.canary.unwrap_or_default();
        if arm.contains("canary arm") {
            in_canary += 1;
        }
        if in_canary >= 10 {
            break;
        }
    }
    assert!(
        in_canary >= 10,
        "only {in_canary} requests in the canary arm"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = status(&h).await;
    assert_ne!(s["phase"], "rolled_back", "{s}");
    assert_eq!(s["arms"]["canary"]["errors"], 0, "{s}");
}
