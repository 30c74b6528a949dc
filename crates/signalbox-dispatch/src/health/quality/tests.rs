//! The quality gate: hysteresis, warnings, intents, and marks shared
//! across replicas.

use super::*;

#[test]
fn the_gate_closes_after_failing_runs_and_opens_after_passing_ones() {
    let gate = QualityGate::default();
    assert_eq!(gate.record(false, "tool-call 0.40 < 0.90", 2, 2), None);
    assert!(gate.closed().is_none(), "one failing run moves nothing");
    let t = gate.record(false, "tool-call 0.40 < 0.90", 2, 2);
    assert!(matches!(t, Some(QualityTransition::Disabled { .. })));
    assert!(gate.closed().unwrap_or_default().contains("tool-call 0.40"));
    assert_eq!(gate.record(true, "", 2, 2), None);
    // A failing run in between starts the recovery count again.
    assert_eq!(gate.record(false, "tool-call 0.50 < 0.90", 2, 2), None);
    assert_eq!(gate.record(true, "", 2, 2), None);
    assert_eq!(
        gate.record(true, "", 2, 2),
        Some(QualityTransition::Restored)
    );
    assert!(gate.closed().is_none());
}

#[test]
fn a_missed_warn_bar_marks_the_route_until_a_run_meets_it() {
    let gate = QualityGate::default();
    assert!(!gate.warned() && gate.warning().is_none());
    gate.record_warning(Some("tool-call 0.85 < 0.95"));
    assert!(gate.warned());
    assert!(
        gate.warning()
            .unwrap_or_default()
            .contains("tool-call 0.85")
    );
    assert!(gate.closed().is_none(), "a warning never skips the route");
    gate.record_warning(None);
    assert!(!gate.warned());
}

#[test]
fn a_gate_for_one_intent_closes_and_opens_for_that_intent_only() {
    let gate = QualityGate::default();
    assert!(gate.closed_for("weather").is_none());
    assert_eq!(
        gate.record_intent("weather", false, "w tool-call 0.00 < 1.00", 2, 1),
        None
    );
    assert!(
        gate.closed_for("weather").is_none(),
        "hysteresis: one run moves nothing"
    );
    let t = gate.record_intent("weather", false, "w tool-call 0.00 < 1.00", 2, 1);
    assert!(matches!(t, Some(QualityTransition::Disabled { .. })));
    let why = gate.closed_for("weather").unwrap_or_default();
    assert!(
        why.contains("tool-call 0.00") && why.ends_with("(for intent weather)"),
        "{why}"
    );
    assert!(
        gate.closed_for("general").is_none(),
        "other intents still served"
    );
    assert!(gate.closed().is_none(), "the route's own gate is open");
    assert_eq!(gate.closed_intents().len(), 1);
    assert_eq!(
        gate.record_intent("weather", true, "", 2, 1),
        Some(QualityTransition::Restored)
    );
    assert!(gate.closed_for("weather").is_none() && gate.closed_intents().is_empty());
    assert!(gate.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95")));
    let why = gate.warning_for("weather").unwrap_or_default();
    assert_eq!(
        why,
        "quality warning: w tool-call 0.90 < 0.95 (for intent weather)"
    );
    assert!(gate.warning_for("general").is_none() && !gate.warned());
    assert!(!gate.record_intent_warning("weather", Some("w tool-call 0.91 < 0.95")));
    assert!(gate.record_intent_warning("weather", None));
    assert!(gate.warning_for("weather").is_none());
}

fn replicas() -> [QualityGate; 2] {
    let store: Arc<dyn QualityStore> = Arc::new(signalbox_state::InMemoryQuality::default());
    let [a, b] = [QualityGate::default(), QualityGate::default()];
    a.share_through("r", 1, Arc::clone(&store));
    b.share_through("r", 2, store);
    [a, b]
}

#[test]
fn a_route_disabled_on_one_replica_is_disabled_on_the_other_until_it_recovers() {
    let [a, b] = replicas();
    assert!(b.closed().is_none());
    a.record(false, "tool-call 0.00 < 1.00", 1, 1);
    let why = b.closed().unwrap_or_default();
    assert!(
        why.contains("tool-call 0.00") && why.contains("another replica"),
        "{why}"
    );
    assert!(!b.closed_here(), "its own gate is untouched");
    assert_eq!(
        b.record(true, "", 1, 1),
        None,
        "its own passing runs do not lift another replica's verdict"
    );
    assert!(b.closed().is_some());
    assert_eq!(a.record(true, "", 1, 1), Some(QualityTransition::Restored));
    assert!(b.closed().is_none(), "the recovery reaches it");
}

#[test]
fn a_warned_route_keeps_the_declared_share_on_every_replica() {
    let [a, b] = replicas();
    a.configure(0.4, Duration::from_secs(60));
    b.configure(0.4, Duration::from_secs(60));
    assert_eq!(b.share(), 1.0);
    a.record_warning(Some("tool-call 0.85 < 0.95"));
    assert_eq!(a.share(), 0.4);
    assert_eq!(b.share(), 0.4, "warned by the other replica");
    assert!(b.warning().unwrap_or_default().contains("another replica"));
    a.record_warning(None);
    assert_eq!(b.share(), 1.0);
    b.configure(7.0, Duration::from_secs(60));
    b.record_warning(Some("x"));
    assert_eq!(b.share(), DEFAULT_WARN_WEIGHT, "out of (0, 1]: the default");
}

#[test]
fn an_intent_gate_closed_on_one_replica_is_closed_on_the_other_for_that_intent_only() {
    let [a, b] = replicas();
    assert!(b.closed_for("weather").is_none());
    a.record_intent("weather", false, "w tool-call 0.00 < 1.00", 1, 1);
    let why = b.closed_for("weather").unwrap_or_default();
    assert!(
        why.contains("tool-call 0.00")
            && why.contains("another replica")
            && why.ends_with("(for intent weather)"),
        "{why}"
    );
    assert!(b.closed_for("general").is_none(), "that intent only");
    assert!(b.closed().is_none(), "not the route");
    assert_eq!(b.closed_intents().len(), 1);
    assert!(
        a.closed_for("weather")
            .is_some_and(|w| !w.contains("another"))
    );
    assert_eq!(
        b.record_intent("weather", true, "", 1, 1),
        None,
        "its own passing runs do not lift another replica's verdict"
    );
    assert!(b.closed_for("weather").is_some());
    a.record_intent("weather", true, "", 1, 1);
    assert!(b.closed_for("weather").is_none(), "the recovery reaches it");
    assert!(b.closed_intents().is_empty());
    a.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    let why = b.warning_for("weather").unwrap_or_default();
    assert!(why.contains("another replica"), "{why}");
    assert!(b.warning_for("general").is_none() && !b.warned());
    a.record_intent_warning("weather", None);
    assert!(b.warning_for("weather").is_none());
}

#[test]
fn a_route_warned_for_an_intent_reports_that_intents_share_on_every_replica() {
    let [a, b] = replicas();
    for g in [&a, &b] {
        g.configure(0.4, Duration::from_secs(60));
    }
    assert!(a.warned_intents().is_empty() && a.share_for("weather") == 1.0);
    a.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    assert_eq!(a.share(), 1.0, "the route-wide share is untouched");
    assert_eq!(a.share_for("weather"), 0.4);
    assert_eq!(a.share_for("general"), 1.0);
    assert_eq!(
        a.warned_intents(),
        [("weather".to_owned(), "w tool-call 0.90 < 0.95".to_owned())]
    );
    assert_eq!(b.share_for("weather"), 0.4, "warned by the other replica");
    assert_eq!(
        b.warned_intents(),
        [(
            "weather".to_owned(),
            "w tool-call 0.90 < 0.95 (found by another replica)".to_owned()
        )]
    );
    // Warned for every request too: the shares multiply.
    a.record_warning(Some("tool-call 0.85 < 0.95"));
    assert!((a.share_for("weather") - 0.16).abs() < 1e-12);
    assert_eq!(a.share_for("general"), 0.4);
    a.record_intent_warning("weather", None);
    assert!(a.warned_intents().is_empty() && b.warned_intents().is_empty());
}
