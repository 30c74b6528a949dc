//! Validation of the `quality` section.

use std::collections::HashMap;

use crate::load_str;
use crate::test_temp::{TempDir, temp_file};

const BASE: &str = "\
providers:
  - { name: p, kind: openai-compatible, base-url: http://127.0.0.1:9001/v1 }
routes:
  - { id: r, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [r] }
";

/// A suite file of its own for each call (tests run in parallel, and a
/// shared file being rewritten reads empty to another test), in a
/// directory removed when the returned guard drops.
fn suite_file() -> (TempDir, String) {
    let (dir, path) = temp_file("s.yaml", "suite: s\ncases: []\n");
    (dir, path.display().to_string())
}

#[test]
fn a_quality_section_is_read_with_its_suite_text_and_defaults() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ tool-call: 0.9 }} }}\n"
    );
    let config = load_str(&yaml, "test.yaml", &HashMap::new()).unwrap();
    let q = &config.quality;
    assert_eq!(q.every.as_secs(), 600);
    assert_eq!((q.trip_after, q.recover_after), (1, 2));
    assert_eq!(q.suites[0].text, "suite: s\ncases: []\n");
    assert!(q.suites[0].judges("r"));
    assert_eq!(q.suites[0].min_pass_rate, [("tool-call".to_owned(), 0.9)]);
}

#[test]
fn a_bad_quality_section_names_each_field() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  every: 10ms\n  trip-after: 0\n  suites:\n    - {{ path: {path}, routes: [nope], min-pass-rate: {{ tool-calls: 0.9, refusal: 1.5 }} }}\n    - {{ path: /no/such/suite.yaml, min-pass-rate: {{}} }}\n"
    );
    let errors = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap_err()
        .to_string();
    for field in [
        "quality.every",
        "quality.trip-after",
        "quality.suites[0].routes[0]",
        "quality.suites[0].min-pass-rate.tool-calls",
        "quality.suites[0].min-pass-rate.refusal",
        "quality.suites[1].path",
        "quality.suites[1].min-pass-rate",
    ] {
        assert!(errors.contains(field), "{field} missing from:\n{errors}");
    }
}

#[test]
fn a_warn_bar_is_kept_and_may_not_sit_below_its_floor() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ tool-call: 0.8 }}, warn-pass-rate: {{ tool-call: 0.95 }} }}\n"
    );
    let c = load_str(&yaml, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let q = c.quality;
    assert_eq!(q.suites[0].warn_pass_rate, [("tool-call".to_owned(), 0.95)]);
    let yaml = yaml.replace("tool-call: 0.95", "tool-call: 0.5");
    let errors = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("quality.suites[0].warn-pass-rate.tool-call: must not be below min-pass-rate.tool-call (0.8)"),
        "{errors}"
    );
}

#[test]
fn a_suite_may_judge_some_intents_only() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ tool-call: 0.8 }}, intents: [weather] }}\n"
    );
    let c = load_str(&yaml, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.quality.suites[0].intents, ["weather"]);
    let errors = load_str(
        &yaml.replace("[weather]", "[\"\"]"),
        "test.yaml",
        &HashMap::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains("quality.suites[0].intents[0]: must not be empty"),
        "{errors}"
    );
}

#[test]
fn the_scheduler_settings_are_read_with_their_defaults() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  jitter: 30s\n  budget: {{ requests-per-hour: 40, cost-per-hour-usd: 0.5 }}\n  judge: chat\n  score-window: 10m\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ judge: 0.9 }} }}\n"
    );
    let c = load_str(&yaml, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let q = c.quality;
    assert_eq!(q.jitter.as_secs(), 30);
    assert_eq!(q.budget.requests_per_hour, Some(40));
    assert_eq!(q.budget.cost_per_hour_usd, Some(0.5));
    assert_eq!(q.judge.as_deref(), Some("chat"));
    assert_eq!(q.score_window.as_secs(), 600);
    assert_eq!(q.suites[0].min_pass_rate, [("judge".to_owned(), 0.9)]);
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ tool-call: 0.9 }} }}\n"
    );
    let q = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap()
        .quality;
    assert_eq!(q.jitter.as_secs(), 0);
    assert_eq!(q.budget, crate::QualityBudget::default());
    assert_eq!((q.tenant, q.judge), (None, None));
    assert_eq!(q.score_window.as_secs(), 3600);
}

#[test]
fn a_zero_budget_an_unknown_judge_and_a_judge_threshold_without_a_judge_are_refused() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  budget: {{ requests-per-hour: 0, cost-per-hour-usd: -1 }}\n  judge: nope\n  tenant: nobody\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ judge: 0.9 }} }}\n"
    );
    let errors = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap_err()
        .to_string();
    for field in [
        "quality.budget.requests-per-hour: must be at least 1",
        "quality.budget.cost-per-hour-usd: must be more than 0",
        "quality.judge: unknown alias `nope`",
        "quality.tenant: unknown tenant `nobody`",
    ] {
        assert!(errors.contains(field), "{field} missing from:\n{errors}");
    }
    let yaml = format!(
        "{BASE}quality:\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ judge: 0.9 }} }}\n"
    );
    let errors = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("quality.suites[0].min-pass-rate.judge: needs `quality.judge`"),
        "{errors}"
    );
}

#[test]
fn a_suite_may_run_under_a_registered_prompt_version_with_all_its_variables() {
    let prompts = "prompts:\n  - id: support\n    versions:\n      - { version: v1, template: \"Help with {{product}}.\" }\n      - { version: v2, template: \"Help with {{product}} in {{tone}} words.\" }\n";
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}{prompts}quality:\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ refusal: 1.0 }}, prompt: support@v2, prompt-variables: {{ product: Acme, tone: kind }} }}\n"
    );
    let c = load_str(&yaml, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let p = c.quality.suites[0].prompt.clone().unwrap();
    assert_eq!(
        (p.prompt, p.version, p.label.as_str()),
        (0, 1, "support@v2")
    );
    assert_eq!(p.values.len(), 2);
    let yaml = yaml.replace(", tone: kind", ", colour: red");
    let errors = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap_err()
        .to_string();
    for e in [
        "quality.suites[0].prompt-variables: missing `tone` (used by support@v2)",
        "quality.suites[0].prompt-variables: `colour` is not a variable of support@v2",
    ] {
        assert!(errors.contains(e), "{e} missing from:\n{errors}");
    }
    let yaml = yaml.replace("support@v2", "support@v9");
    let errors = load_str(&yaml, "test.yaml", &HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("prompt `support` has no version `v9`"),
        "{errors}"
    );
}

#[test]
fn a_warn_weight_is_read_and_must_be_a_share() {
    let (_dir, path) = suite_file();
    let yaml = format!(
        "{BASE}quality:\n  warn-weight: 0.4\n  suites:\n    - {{ path: {path}, min-pass-rate: {{ tool-call: 0.8 }} }}\n"
    );
    let cfg = crate::load_str(&yaml, "t.yaml", &HashMap::new()).unwrap();
    assert_eq!(cfg.quality.warn_weight, 0.4);
    for bad in ["0", "1.5", "-0.1"] {
        let yaml = format!("{BASE}quality:\n  warn-weight: {bad}\n");
        let errors = crate::load_str(&yaml, "t.yaml", &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("quality.warn-weight: must be more than 0 and at most 1"),
            "{bad}: {errors}"
        );
    }
}
