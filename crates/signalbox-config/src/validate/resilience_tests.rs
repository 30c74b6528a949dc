//! Validation of the resilience and privacy sections.

use std::collections::HashMap;

use crate::{ConfigErrors, load_str};

const BASE: &str = "\
providers:
  - { name: p, kind: openai-compatible, base-url: http://127.0.0.1:9001/v1 }
routes:
  - { id: r, provider: p, model: m, region: us }
aliases:
  - { name: chat, routes: [r] }
";

fn errors(extra: &str) -> ConfigErrors {
    match load_str(&format!("{BASE}{extra}"), "test.yaml", &HashMap::new()) {
        Ok(_) => panic!("expected errors for:\n{extra}"),
        Err(e) => e,
    }
}

fn messages(extra: &str) -> Vec<String> {
    errors(extra)
        .0
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect()
}

#[test]
fn defaults_apply_without_a_resilience_section() {
    let c = load_str(BASE, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let r = &c.routes[0];
    assert_eq!(r.breaker.consecutive_failures, 5);
    assert_eq!(r.health_check.mode, crate::ProbeMode::WhenUnhealthy);
    assert_eq!(c.privacy.zones[r.zone], "external");
    assert_eq!(c.resilience.retry.attempts_per_route, 1);
}

#[test]
fn route_breaker_overrides_the_gateway_default() {
    let text = format!(
        "{}resilience:\n  breaker: {{ open-for: 5s, consecutive-failures: 2 }}\n",
        BASE.replace(
            "region: us }",
            "region: us, breaker: { consecutive-failures: 9 } }"
        )
    );
    let c = load_str(&text, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.routes[0].breaker.consecutive_failures, 9);
    assert_eq!(
        c.routes[0].breaker.open_for,
        std::time::Duration::from_secs(5)
    );
}

#[test]
fn bad_thresholds_are_reported_with_paths() {
    let m = messages(
        "resilience:\n  breaker: { error-rate: 1.5, half-open-trials: 0 }\n  retry: { attempts-per-route: 0, budget-ratio: 2 }\n  health-check: { expect: '(' }\n",
    );
    for expected in [
        "resilience.breaker.error-rate: must be in (0, 1], got 1.5",
        "resilience.breaker.half-open-trials: must be at least 1",
        "resilience.retry.attempts-per-route: must be between 1 and 10, got 0",
        "resilience.retry.budget-ratio: must be in [0, 1], got 2",
    ] {
        assert!(m.iter().any(|x| x == expected), "{expected:?} not in {m:?}");
    }
    assert!(
        m.iter()
            .any(|x| x.starts_with("resilience.health-check.expect: invalid regex")),
        "{m:?}"
    );
}

#[test]
fn smaller_model_must_name_another_alias() {
    let text = BASE.replace("routes: [r] }", "routes: [r], smaller-model: tiny }");
    let e = match load_str(&text, "test.yaml", &HashMap::new()) {
        Ok(_) => panic!("accepted an unknown smaller-model"),
        Err(e) => e,
    };
    assert_eq!(e.0[0].path, "aliases[0].smaller-model");
    assert!(e.0[0].message.contains("unknown alias \"tiny\""), "{e}");
}

#[test]
fn privacy_zones_and_boundaries_are_checked() {
    let m = messages(
        "privacy:\n  boundaries:\n    - { zone: mars, protect: { classes: { email: tokenise } } }\n    - zone: external\n      protect: { custom: [{ name: code, regex: '(', action: block }] }\n",
    );
    assert!(
        m.iter()
            .any(|x| x.starts_with("privacy.boundaries[0].zone: unknown zone \"mars\"")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| x
                .starts_with("privacy.boundaries[1].protect: `custom[0].regex`: invalid regex")),
        "{m:?}"
    );
}

#[test]
fn a_route_needs_a_zone_when_external_is_not_a_zone() {
    let m = messages("privacy:\n  zones: [onprem, cloud]\n");
    assert!(
        m.iter()
            .any(|x| x.starts_with("routes[0].zone: no zone given")),
        "{m:?}"
    );
}

#[test]
fn tenant_limits_must_be_positive() {
    let m = messages(
        "tenants:\n  - { id: t, limits: { requests-per-minute: 0 }, weight: -1 }\nanonymous-tenant: t\n",
    );
    assert!(
        m.iter()
            .any(|x| x.starts_with("tenants[0].limits.requests-per-minute: must be at least 1")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| x.starts_with("tenants[0].weight: must be a number greater than 0")),
        "{m:?}"
    );
}

#[test]
fn retry_on_names_the_classes_that_earn_same_route_retries() {
    use crate::{RetryClass, RetryOn};
    let c = load_str(BASE, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.resilience.retry.retry_on, RetryOn::DEFAULT);
    assert!(!RetryOn::DEFAULT.contains(RetryClass::Timeout));
    let text = format!("{BASE}resilience:\n  retry: {{ retry-on: [timeout, bad-response] }}\n");
    let c = load_str(&text, "test.yaml", &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let on = c.resilience.retry.retry_on;
    assert!(on.contains(RetryClass::Timeout) && on.contains(RetryClass::BadResponse));
    assert!(!on.contains(RetryClass::ServerError));
    // A class that is never retried on the same route cannot be granted.
    let e = errors("resilience:\n  retry: { retry-on: [request-rejected] }\n").to_string();
    assert!(
        e.contains("retry-on") && e.contains("request-rejected"),
        "{e}"
    );
}
