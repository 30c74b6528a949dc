//! The score store: aligned windows, a row per model version, queries by
//! any identifier, retention, and the local copy beside the shared store.

use signalbox_state::InMemoryScores;

use super::*;

fn key(at: u64, model: &str) -> ScoreKey {
    ScoreKey {
        window_start: at,
        route: "r".into(),
        model_version: model.into(),
        prompt_version: "-".into(),
        suite: "s".into(),
        scorer: "tool-call".into(),
    }
}

fn tally(passed: u64, scored: u64) -> ScoreTally {
    ScoreTally::run(7, passed, scored)
}

fn add(s: &Scores, shared: &InMemoryScores, at: u64, model: &str, window: u64, t: ScoreTally) {
    s.add(shared, window, vec![(key(at, model), t)]);
}

#[test]
fn runs_in_one_window_add_up_and_a_new_model_version_gets_its_own_row() {
    let s = Scores::default();
    let shared = InMemoryScores::default();
    add(&s, &shared, 3_600, "v1", 3_600, tally(1, 1));
    add(&s, &shared, 5_000, "v1", 3_600, tally(1, 1));
    // The model changes in the middle of the window.
    add(&s, &shared, 6_000, "v2", 3_600, tally(0, 1));
    let rows = select(&shared.snapshot(), &Filter::default());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["window_start"], 3_600);
    assert_eq!(
        (
            rows[0]["model_version"].as_str(),
            rows[0]["scored"].as_u64()
        ),
        (Some("v1"), Some(2))
    );
    assert_eq!(rows[0]["runs"], 2);
    assert_eq!(rows[0]["replicas"], serde_json::json!([7]));
    assert_eq!(
        (
            rows[1]["model_version"].as_str(),
            rows[1]["pass_rate"].as_f64()
        ),
        (Some("v2"), Some(0.0))
    );
    let v2 = select(
        &shared.snapshot(),
        &Filter {
            model_version: Some("v2".into()),
            ..Filter::default()
        },
    );
    assert_eq!(v2.len(), 1);
    assert_eq!(s.latest("r").len(), 2, "both versions in the newest window");
    assert!(s.latest("other").is_empty());
    assert_eq!(
        s.local.snapshot(),
        shared.snapshot(),
        "the local copy holds what was shared"
    );
}

#[test]
fn windows_past_retention_are_dropped() {
    let s = Scores::default();
    let shared = InMemoryScores::default();
    add(&s, &shared, 0, "v1", 60, tally(1, 1));
    add(&s, &shared, 60 * RETAIN_WINDOWS, "v1", 60, tally(1, 1));
    assert_eq!(select(&shared.snapshot(), &Filter::default()).len(), 2);
    add(
        &s,
        &shared,
        60 * (RETAIN_WINDOWS + 1),
        "v1",
        60,
        tally(1, 1),
    );
    let rows = select(&shared.snapshot(), &Filter::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["window_start"], 60 * RETAIN_WINDOWS);
    let since = select(
        &shared.snapshot(),
        &Filter {
            since: Some(60 * (RETAIN_WINDOWS + 1)),
            ..Filter::default()
        },
    );
    assert_eq!(since.len(), 1);
    assert_eq!(s.local.snapshot().len(), 2, "the local copy too");
}

#[test]
fn a_run_becomes_one_decision_log_row_per_key() {
    let rows = vec![(key(100, "v1"), tally(2, 3)), (key(100, "v2"), tally(0, 1))];
    let kept = runs(7, 123, &rows);
    assert_eq!(kept.len(), 2);
    assert_eq!(
        (
            kept[0].time_secs,
            kept[0].replica,
            kept[0].passed,
            kept[0].scored
        ),
        (123, 7, 2, 3)
    );
    assert_eq!(kept[1].model_version, "v2");
}
