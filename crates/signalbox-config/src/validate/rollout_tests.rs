//! Validation of the `shadow` and `canary` sections.

use std::collections::HashMap;
use std::time::Duration;

use crate::load_str;

const BASE: &str = "\
providers:
  - { name: p, kind: openai-compatible, base-url: http://127.0.0.1:9001/v1 }
routes:
  - { id: eu, provider: p, model: m, region: eu }
  - { id: eu-new, provider: p, model: m2, region: eu }
  - { id: us, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [eu, eu-new, us] }
tenants:
  - { id: acme, api-keys: [{env: K1}], allowed-regions: [eu] }
  - { id: globex, api-keys: [{env: K2}] }
";

fn vars() -> HashMap<String, String> {
    [("K1", "key-one"), ("K2", "key-two")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
}

fn errors_of(yaml: &str) -> String {
    match load_str(yaml, "test.yaml", &vars()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_shadow_rule_is_read_with_its_defaults() {
    let yaml = format!(
        "{BASE}shadow:\n  rules:\n    - {{ name: try-new, route: eu-new, sample: 0.25, when: {{ tenants: [acme], intents: [support] }} }}\n"
    );
    let config = load_str(&yaml, "test.yaml", &vars()).unwrap();
    let s = &config.shadow;
    assert_eq!(s.max_concurrency, 4);
    assert_eq!(s.timeout, Duration::from_secs(30));
    let rule = &s.rules[0];
    assert_eq!((rule.route.as_str(), rule.sample), ("eu-new", 0.25));
    assert_eq!(rule.requests_per_hour, 1000);
    assert!(rule.scopes("acme", "support", "chat"));
    assert!(!rule.scopes("globex", "support", "chat"));
    assert!(!rule.scopes("acme", "general", "chat"));
    assert!(
        config
            .summary()
            .contains("  shadow try-new: 25% of its requests mirrored to eu-new\n")
    );
}

#[test]
fn a_bad_shadow_rule_names_each_field() {
    let yaml = format!(
        "{BASE}shadow:\n  max-concurrency: 0\n  rules:\n    - {{ name: a, route: nowhere, sample: 1.5, requests-per-hour: 0, when: {{ tenants: [nobody], aliases: [none] }} }}\n    - {{ name: a, route: eu, sample: 0.1, cost-per-hour-usd: -1 }}\n"
    );
    let errors = errors_of(&yaml);
    for want in [
        "shadow.max-concurrency",
        "shadow.rules[0].route: unknown route `nowhere`",
        "shadow.rules[0].sample",
        "shadow.rules[0].requests-per-hour",
        "shadow.rules[0].when.tenants[0]: unknown tenant `nobody`",
        "shadow.rules[0].when.aliases[0]: unknown alias `none`",
        "shadow.rules[1].name: duplicate shadow rule",
        "shadow.rules[1].cost-per-hour-usd",
    ] {
        assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
    }
}

#[test]
fn a_shadow_route_a_scoped_tenant_can_never_use_is_refused() {
    // acme may only be served from eu: a us shadow route never qualifies.
    let yaml = format!(
        "{BASE}shadow:\n  rules:\n    - {{ name: to-us, route: us, sample: 0.5, when: {{ tenants: [acme] }} }}\n"
    );
    let errors = errors_of(&yaml);
    assert!(
        errors.contains("shadow.rules[0].route: route `us` can never take tenant `acme`'s requests: region us ∉ [eu]"),
        "{errors}"
    );
    // The same route for a tenant allowed everywhere is fine.
    let yaml = format!(
        "{BASE}shadow:\n  rules:\n    - {{ name: to-us, route: us, sample: 0.5, when: {{ tenants: [globex] }} }}\n"
    );
    assert_eq!(errors_of(&yaml), "");
}

#[test]
fn a_canary_is_read_with_steps_in_basis_points_and_defaults() {
    let yaml = format!(
        "{BASE}canary:\n  - {{ name: m2, alias: chat, baseline: eu, canary: eu-new, steps: [1, 5, 25, 100], window: {{ min-requests: 10, min-duration: 30s }} }}\n"
    );
    let config = load_str(&yaml, "test.yaml", &vars()).unwrap();
    let c = &config.canaries[0];
    assert_eq!(c.subject.arms(), ("eu".to_owned(), "eu-new".to_owned()));
    assert_eq!(c.steps_bp, [100, 500, 2500, 10_000]);
    assert_eq!(
        (c.min_requests, c.min_duration),
        (10, Duration::from_secs(30))
    );
    assert_eq!(c.rollback.p95_latency_ratio, 1.5);
    assert!(
        config
            .summary()
            .contains("  canary m2 on chat: eu -> eu-new in steps 1%, 5%, 25%, 100%\n"),
        "{}",
        config.summary()
    );
}

#[test]
fn a_bad_canary_names_each_field() {
    let yaml = format!(
        "{BASE}canary:\n  - {{ name: a, alias: nope, baseline: eu, canary: eu, steps: [5, 1, 120] }}\n  - {{ name: b, alias: chat, baseline: eu, canary: ghost, rollback: {{ error-rate-increase: 2, p95-latency-ratio: 0.5 }} }}\n"
    );
    let errors = errors_of(&yaml);
    for want in [
        "canary[0].alias: unknown alias `nope`",
        "canary[0].canary: must differ from the baseline route",
        "canary[0].steps[1]: must be larger than the step before",
        "canary[0].steps[2]: must be more than 0 and at most 100",
        "canary[1].canary: unknown route `ghost`",
    ] {
        assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
    }
    let yaml = format!(
        "{BASE}canary:\n  - {{ name: b, alias: chat, baseline: eu, canary: eu-new, rollback: {{ error-rate-increase: 2, p95-latency-ratio: 0.5 }} }}\n  - {{ name: c, alias: chat, baseline: us, canary: eu-new }}\n"
    );
    let errors = errors_of(&yaml);
    for want in [
        "canary[0].rollback.error-rate-increase",
        "canary[0].rollback.p95-latency-ratio",
        "canary[1]: `eu-new` of alias `chat` is in another canary",
    ] {
        assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
    }
}

const PROMPTS: &str = "\
prompts:
  - id: support
    versions:
      - { version: v1, template: 'Help with {{product}}.' }
      - { version: v2, template: 'Help briefly with {{product}}.' }
      - { version: v3, template: 'Help {{user}} with {{product}}.' }
";

#[test]
fn a_prompt_canary_names_two_versions_of_one_prompt() {
    let yaml = format!(
        "{BASE}{PROMPTS}canary:\n  - {{ name: p2, alias: chat, prompt: support, baseline: v1, canary: v2 }}\n"
    );
    let config = load_str(&yaml, "test.yaml", &vars()).unwrap();
    assert_eq!(
        config.canaries[0].subject,
        crate::CanarySubject::Prompt {
            id: "support".into(),
            baseline: "v1".into(),
            canary: "v2".into()
        }
    );
}

#[test]
fn a_prompt_canary_whose_arms_take_different_variables_is_refused() {
    let yaml = format!(
        "{BASE}{PROMPTS}canary:\n  - {{ name: p3, alias: chat, prompt: support, baseline: v1, canary: v3 }}\n  - {{ name: p4, alias: chat, prompt: nope, baseline: v1, canary: v2 }}\n  - {{ name: p5, alias: chat, prompt: support, baseline: v1, canary: v9 }}\n"
    );
    let errors = errors_of(&yaml);
    for want in [
        "canary[0].canary: version `v3` uses the variables [product, user] where `v1` uses [product]",
        "canary[1].prompt: unknown prompt `nope`",
        "canary[2].canary: prompt `support` has no version `v9`",
    ] {
        assert!(errors.contains(want), "missing {want:?} in:\n{errors}");
    }
}

#[test]
fn a_shadow_rule_agreement_bar_defaults_and_is_a_share() {
    let yaml =
        format!("{BASE}shadow:\n  rules:\n    - {{ name: a, route: eu-new, sample: 0.1 }}\n");
    let config = load_str(&yaml, "test.yaml", &vars()).unwrap();
    assert_eq!(config.shadow.rules[0].min_agreement, 0.9);
    let yaml = format!(
        "{BASE}shadow:\n  rules:\n    - {{ name: a, route: eu-new, sample: 0.1, min-agreement: 1.5 }}\n"
    );
    assert!(
        errors_of(&yaml).contains("shadow.rules[0].min-agreement: must be between 0 and 1"),
        "{}",
        errors_of(&yaml)
    );
}

#[test]
fn a_canarys_eval_drop_defaults_to_ten_points_and_is_a_share() {
    let yaml = format!(
        "{BASE}{PROMPTS}canary:\n  - {{ name: p2, alias: chat, prompt: support, baseline: v1, canary: v2 }}\n"
    );
    let config = load_str(&yaml, "test.yaml", &vars()).unwrap();
    assert_eq!(config.canaries[0].rollback.eval_drop, 0.1);
    let yaml = yaml.replace(
        "canary: v2 }",
        "canary: v2, rollback: { eval-drop: 0.02 } }",
    );
    let config = load_str(&yaml, "test.yaml", &vars()).unwrap();
    assert_eq!(config.canaries[0].rollback.eval_drop, 0.02);
    let yaml = yaml.replace("eval-drop: 0.02", "eval-drop: 1.5");
    let errors = errors_of(&yaml);
    assert!(
        errors.contains("canary[0].rollback.eval-drop: must be between 0 and 1"),
        "{errors}"
    );
}
