//! The score store: aligned windows, a row per model version, queries by
//! any identifier, retention.

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

fn tally(passed: u32, scored: u32) -> Tally {
    Tally { passed, scored }
}

#[test]
fn runs_in_one_window_add_up_and_a_new_model_version_gets_its_own_row() {
    let s = Scores::default();
    s.add(key(3_600, "v1"), 3_600, tally(1, 1));
    s.add(key(5_000, "v1"), 3_600, tally(1, 1));
    // The model changes in the middle of the window.
    s.add(key(6_000, "v2"), 3_600, tally(0, 1));
    let rows = s.query(&Filter::default());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["window_start"], 3_600);
    assert_eq!(
        (
            rows[0]["model_version"].as_str(),
            rows[0]["scored"].as_u64()
        ),
        (Some("v1"), Some(2))
    );
    assert_eq!(
        (
            rows[1]["model_version"].as_str(),
            rows[1]["pass_rate"].as_f64()
        ),
        (Some("v2"), Some(0.0))
    );
    let v2 = s.query(&Filter {
        model_version: Some("v2".into()),
        ..Filter::default()
    });
    assert_eq!(v2.len(), 1);
    assert_eq!(s.latest("r").len(), 2, "both versions in the newest window");
    assert!(s.latest("other").is_empty());
}

#[test]
fn windows_past_retention_are_dropped() {
    let s = Scores::default();
    s.add(key(0, "v1"), 60, tally(1, 1));
    s.add(key(60 * RETAIN_WINDOWS, "v1"), 60, tally(1, 1));
    assert_eq!(s.query(&Filter::default()).len(), 2);
    s.add(key(60 * (RETAIN_WINDOWS + 1), "v1"), 60, tally(1, 1));
    let rows = s.query(&Filter::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["window_start"], 60 * RETAIN_WINDOWS);
    let since = s.query(&Filter {
        since: Some(60 * (RETAIN_WINDOWS + 1)),
        ..Filter::default()
    });
    assert_eq!(since.len(), 1);
}
