//! Validation of the `quality` section.

use std::collections::HashMap;

use crate::load_str;

const BASE: &str = "\
providers:
  - { name: p, kind: openai-compatible, base-url: http://127.0.0.1:9001/v1 }
routes:
  - { id: r, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [r] }
";

/// A suite file of its own for each call: tests run in parallel, and a
/// shared file being rewritten reads empty to another test.
fn suite_file() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("signalbox-quality-cfg-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("s{n}.yaml"));
    let _ = std::fs::write(&path, "suite: s\ncases: []\n");
    path.display().to_string()
}

#[test]
fn a_quality_section_is_read_with_its_suite_text_and_defaults() {
    let path = suite_file();
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
    let path = suite_file();
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
    let path = suite_file();
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
fn a_warn_weight_is_read_and_must_be_a_share() {
    let path = suite_file();
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
