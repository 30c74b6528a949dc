use super::*;
use crate::AuditEntry;

fn window(model: &str, error_rate: f64, p95: u64) -> WindowSummary {
    WindowSummary {
        requests: 100,
        error_rate,
        refused_rate: 0.0,
        p50_ms: Some(p95 / 2),
        p95_ms: Some(p95),
        cost_usd: 0.1,
        degraded_rate: 0.0,
        policy_versions: [("v1".to_string(), 100)].into(),
        model_versions: [(format!("us-large {model}"), 100)].into(),
        prompt_versions: BTreeMap::new(),
        skips: BTreeMap::new(),
        operator_calls: Vec::new(),
    }
}

/// An operator's drain of us-small, as the audit trail keeps it.
fn drain_us_small() -> AuditEntry {
    AuditEntry {
        time_ms: 7,
        who: "oncall".into(),
        role: "operator".into(),
        method: "POST".into(),
        path: "/admin/actions".into(),
        action: Some("act-1".into()),
        reason: Some("provider incident".into()),
        status: 201,
        detail: "created: drain route us-small".into(),
    }
}

fn kinds(changes: &[Change]) -> Vec<&'static str> {
    changes.iter().map(|c| c.kind.as_str()).collect()
}

#[test]
fn causes_come_first_then_health_then_the_metrics() {
    let before = window("gpt-4o-2024-08-06", 0.01, 900);
    let mut after = window("gpt-4o-2024-11-20", 0.12, 2_000);
    after.operator_calls.push(drain_us_small());
    after.skips.insert("us-small operator".into(), 40);
    let changes = compare(&before, &after);
    assert_eq!(
        kinds(&changes),
        ["model", "operator", "health", "metric", "metric"],
        "{changes:#?}"
    );
    assert_eq!(
        changes[0].what,
        "route us-large reports model version gpt-4o-2024-11-20 (was gpt-4o-2024-08-06) (100 requests)"
    );
    assert!(changes[1].what.contains("act-1") && changes[1].what.contains("provider incident"));
    assert_eq!(changes[1].at_ms, Some(7));
    assert_eq!(
        changes[2].what,
        "route us-small skipped (operator) for 40 requests (none before)"
    );
    assert_eq!(changes[3].what, "error rate 1.0% → 12.0%");
    assert_eq!(changes[4].what, "p95 latency 900 ms → 2000 ms");
    let json = serde_json::to_value(&changes[0]).unwrap();
    assert_eq!(json["kind"], "model");
}

#[test]
fn the_same_window_twice_changed_nothing() {
    let w = window("m", 0.01, 900);
    assert!(compare(&w, &w).is_empty());
}

#[test]
fn two_empty_windows_changed_nothing() {
    let empty = WindowSummary::default();
    assert!(compare(&empty, &empty).is_empty());
}

#[test]
fn a_version_gone_from_a_route_still_serving_is_named() {
    let mut before = window("m-1", 0.0, 900);
    before.model_versions.insert("us-large m-2".into(), 10);
    let after = window("m-1", 0.0, 900);
    let changes = compare(&before, &after);
    assert_eq!(kinds(&changes), ["model"], "{changes:#?}");
    assert_eq!(
        changes[0].what,
        "route us-large no longer reports model version m-2"
    );
}

#[test]
fn the_gateways_own_events_are_listed_before_operator_actions() {
    let before = window("m", 0.01, 900);
    let mut after = window("m", 0.01, 900);
    after.operator_calls.push(AuditEntry {
        time_ms: 0,
        who: "signalbox-quality".into(),
        role: crate::SYSTEM_ROLE.into(),
        method: "EVENT".into(),
        path: "/quality/us-large".into(),
        action: None,
        reason: Some("disabled".into()),
        status: 200,
        detail: "route us-large disabled: tools tool-call 0.40 < 0.90".into(),
    });
    let changes = compare(&before, &after);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].kind, ChangeKind::Event);
    assert_eq!(
        changes[0].what,
        "signalbox-quality: route us-large disabled: tools tool-call 0.40 < 0.90"
    );
}

#[test]
fn a_window_is_compared_with_the_one_before_it_and_must_not_be_empty() {
    let (before, after) = Span::with_baseline(1_000, 1_600).unwrap();
    assert_eq!((before.since_ms, before.until_ms), (400, 1_000));
    assert_eq!((after.since_ms, after.until_ms), (1_000, 1_600));
    assert_eq!(
        Span::with_baseline(5, 5),
        Err(SpanError::Empty {
            since_ms: 5,
            until_ms: 5
        })
    );
}

#[tokio::test]
async fn a_new_policy_version_shows_the_unified_diff_of_its_text() {
    let db = crate::test_support::TempDb::new("changes-diff");
    let log = db.log();
    log.config_text("v1", "routes:\n  - a\n").await.unwrap();
    log.config_text("v2", "routes:\n  - b\n").await.unwrap();
    let t = crate::test_support::now_ms() - 60_000;
    let mut old = crate::test_support::served("a", t, "acme", "eu-large");
    old.policy_version = "v1".into();
    let mut new = crate::test_support::served("b", t + 30_000, "acme", "eu-large");
    new.policy_version = "v2".into();
    assert!(log.record(old) && log.record(new));
    log.flush().await;
    let (before, after) = Span::with_baseline(t + 20_000, t + 40_000).unwrap();
    let report = log
        .reader()
        .unwrap()
        .what_changed(before, after, None)
        .unwrap();
    let c = &report.changes[0];
    assert_eq!(c.what, "policy version v2 appeared (1 requests)");
    assert_eq!(
        c.detail,
        [
            "--- v1",
            "+++ v2",
            "@@ -1,2 +1,2 @@",
            " routes:",
            "-  - a",
            "+  - b"
        ]
    );
}

#[test]
fn an_empty_baseline_ranks_no_version_as_changed() {
    let before = WindowSummary::default();
    let mut after = window("gpt-4o-2024-08-06", 0.5, 900);
    after.prompt_versions.insert("support@v2".into(), 100);
    after.skips.insert("us-small circuit_open".into(), 3);
    after.operator_calls.push(drain_us_small());
    assert_eq!(Traffic::of(&before, &after), Traffic::NoneBefore);
    let changes = compare(&before, &after);
    assert_eq!(
        kinds(&changes),
        ["operator"],
        "only what happened in the window: {changes:#?}"
    );
    assert_eq!(
        seen(&after),
        [
            "policy version v1 (100 requests)",
            "route us-large model version gpt-4o-2024-08-06 (100 requests)",
            "prompt support@v2 (100 requests)",
            "route us-small skipped (circuit_open) for 3 requests",
        ]
    );
    assert!(
        Traffic::NoneBefore
            .note()
            .is_some_and(|n| n.starts_with("no traffic in the baseline window"))
    );
    let json = serde_json::to_value(Traffic::NoneBefore).unwrap();
    assert_eq!(json, "none-before");
}

#[test]
fn an_empty_window_after_a_busy_one_lists_nothing_as_gone() {
    let before = window("m", 0.0, 900);
    let after = WindowSummary::default();
    assert_eq!(Traffic::of(&before, &after), Traffic::NoneAfter);
    assert!(compare(&before, &after).is_empty());
    assert_eq!(Traffic::of(&after, &after), Traffic::Neither);
    assert_eq!(Traffic::Both.note(), None);
}

#[test]
fn refusals_that_moved_are_named_beside_the_error_rate() {
    let before = window("m", 0.01, 900);
    let mut after = window("m", 0.31, 900);
    after.refused_rate = 0.3;
    let changes = compare(&before, &after);
    let what: Vec<&str> = changes.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(what, ["error rate 1.0% → 31.0%", "refusals 0.0% → 30.0%"]);
}

#[test]
fn a_new_prompt_version_is_named_after_models_before_events() {
    let mut before = window("m", 0.0, 900);
    before.prompt_versions.insert("support@v1".into(), 100);
    let mut after = window("m-2", 0.0, 900);
    after.prompt_versions.insert("support@v2".into(), 100);
    let changes = compare(&before, &after);
    let got: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.kind.as_str(), c.what.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "model",
                "route us-large reports model version m-2 (was m) (100 requests)"
            ),
            ("prompt", "prompt support@v2 appeared (100 requests)"),
            ("prompt", "prompt support@v1 no longer seen"),
        ]
    );
}
