use signalbox_decision_log::AuditEntry;

use super::*;

fn window(model: &str, error_rate: f64, p95: u64) -> WindowSummary {
    WindowSummary {
        requests: 100,
        error_rate,
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

#[test]
fn causes_come_first_then_health_then_the_metrics() {
    let before = window("gpt-4o-2024-08-06", 0.01, 900);
    let mut after = window("gpt-4o-2024-11-20", 0.12, 2_000);
    after.operator_calls.push(AuditEntry {
        time_ms: 0,
        who: "oncall".into(),
        role: "operator".into(),
        method: "POST".into(),
        path: "/admin/actions".into(),
        action: Some("act-1".into()),
        reason: Some("provider incident".into()),
        status: 201,
        detail: "created: drain route us-small".into(),
    });
    after.skips.insert("us-small operator".into(), 40);
    let changes = compare(&before, &after);
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        ["model", "operator", "health", "metric", "metric"],
        "{changes:#?}"
    );
    assert_eq!(
        changes[0].what,
        "route us-large reports model version gpt-4o-2024-11-20 (was gpt-4o-2024-08-06) (100 requests)"
    );
    assert!(changes[1].what.contains("act-1") && changes[1].what.contains("provider incident"));
    assert_eq!(
        changes[2].what,
        "route us-small skipped (operator) for 40 requests (none before)"
    );
    assert_eq!(changes[3].what, "error rate 1.0% → 12.0%");
    assert_eq!(changes[4].what, "p95 latency 900 ms → 2000 ms");
}

#[test]
fn the_same_window_twice_changed_nothing() {
    let w = window("m", 0.01, 900);
    assert!(compare(&w, &w).is_empty());
}

#[test]
fn windows_are_the_span_and_the_one_before_it() {
    let w = |around: Option<&str>, since: Option<&str>, until: Option<&str>| Windows {
        around: around.map(str::to_owned),
        window: "10m".into(),
        since: since.map(str::to_owned),
        until: until.map(str::to_owned),
        alias: None,
    };
    let now = 10_000_000;
    assert_eq!(
        windows(&w(None, Some("30m"), None), now).unwrap(),
        ((now - 3_600_000, now - 1_800_000), (now - 1_800_000, now))
    );
    let at = 1_765_029_600_000;
    assert_eq!(
        windows(&w(Some("2025-12-06T14:00:00Z"), None, None), now).unwrap(),
        ((at - 600_000, at), (at, at + 600_000))
    );
    assert!(
        windows(&w(None, Some("1m"), Some("2m")), now).is_err(),
        "empty"
    );
}

#[test]
fn the_gateways_own_events_are_listed_before_operator_actions() {
    let before = window("m", 0.01, 900);
    let mut after = window("m", 0.01, 900);
    after.operator_calls.push(AuditEntry {
        time_ms: 0,
        who: "signalbox-quality".into(),
        role: signalbox_decision_log::SYSTEM_ROLE.into(),
        method: "EVENT".into(),
        path: "/quality/us-large".into(),
        action: None,
        reason: Some("disabled".into()),
        status: 200,
        detail: "route us-large disabled: tools tool-call 0.40 < 0.90".into(),
    });
    let changes = compare(&before, &after);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].kind, "event");
    assert_eq!(
        changes[0].what,
        "signalbox-quality: route us-large disabled: tools tool-call 0.40 < 0.90"
    );
}
