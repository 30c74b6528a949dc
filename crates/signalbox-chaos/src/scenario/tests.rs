use super::*;

const GOOD: &str = r#"
description: The primary answers 503 for a while.
upstreams:
  - { name: primary }
  - { name: backup, format: anthropic }
policy:
  providers: []
timeline:
  - { at: 1s, upstream: primary, faults: { error_rate: 1.0 } }
  - { at: 3s, upstream: primary, clear: true }
load: { duration: 4s, rate: 10, stream-share: 0.5 }
invariants:
  definite-answer: { within: 5s }
  breaker: { route: r-primary, opens-within: 5, closes-after-recovery: true }
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioErrors> {
    Scenario::parse(text, "t.yaml", Some("stem"), Path::new("."))
}

fn errors_of(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e.errors,
    }
}

#[test]
fn a_good_file_reads_with_defaults_and_scales() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.name, "stem");
    assert_eq!(s.upstreams[1].format, MockFormat::Anthropic);
    assert!(matches!(s.policy, Policy::Inline(_)));
    let faults = |i: usize| match &s.timeline[i].action {
        Action::Faults { faults, .. } => (**faults).clone(),
        Action::Reload(_) | Action::Redis(_) => panic!("not a fault step"),
    };
    assert_eq!(faults(0).error_rate, 1.0);
    assert_eq!(faults(1), Faults::default());
    assert_eq!(s.load.concurrency, 16);
    assert_eq!(s.load.model, "chat");
    assert_eq!(s.invariants[0].name(), "definite-answer");
    let short = s.scaled(0.5);
    assert_eq!(short.timeline[1].at, Duration::from_millis(1500));
    assert_eq!(short.load.duration, Duration::from_secs(2));
}

#[test]
fn unknown_fields_are_named_with_their_path() {
    let text = GOOD.replace("error_rate: 1.0", "error_rat: 1.0");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("timeline[0].faults"), "{errors:?}");
    assert!(errors[0].contains("error_rat"), "{errors:?}");
    let text = GOOD.replace("stream-share", "stream-shares");
    assert!(errors_of(&text)[0].starts_with("load"), "{text}");
}

#[test]
fn cross_field_errors_are_all_reported_with_paths() {
    let text = GOOD
        .replace("upstream: primary, clear", "upstream: primry, clear")
        .replace("at: 1s", "at: 9s")
        .replace("stream-share: 0.5", "stream-share: 1.5")
        .replace("format: anthropic", "format: telex");
    let errors = errors_of(&text);
    for expected in [
        "timeline[1].upstream: unknown upstream \"primry\"",
        "timeline[0].at: 9s is after the load ends",
        "load.stream-share: must be between 0 and 1",
        "upstreams[1].format: unknown mock format \"telex\"",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{expected} not in {errors:?}"
        );
    }
}

#[test]
fn a_step_needs_faults_or_clear_and_a_scenario_an_invariant() {
    let text = GOOD.replace(", clear: true", "");
    assert!(
        errors_of(&text)
            .iter()
            .any(|e| e.starts_with("timeline[1]: give `upstream`"))
    );
    let reload = GOOD.replace(
        "{ at: 3s, upstream: primary, clear: true }",
        "{ at: 3s, reload: { providers: [] } }",
    );
    assert!(matches!(
        parse(&reload).unwrap().timeline[1].action,
        Action::Reload(_)
    ));
    let both = GOOD.replace(
        "upstream: primary, clear: true",
        "upstream: primary, reload: {}",
    );
    assert!(
        errors_of(&both)
            .iter()
            .any(|e| e.starts_with("timeline[1]: give `upstream`"))
    );
    let bare = "description: x\nload: { duration: 1s, rate: 1 }\ninvariants: {}\n";
    assert_eq!(
        errors_of(bare),
        ["invariants: at least one invariant is required"]
    );
}
