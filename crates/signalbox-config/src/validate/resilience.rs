//! Resilience settings: breaker and probe defaults merged per route, retry
//! bounds, idempotency, escalation, tenant limits and weights.

use std::time::Duration;

use super::Errors;
use crate::model::{
    BreakerConfig, EscalationConfig, HealthCheckConfig, IdempotencyConfig, Resilience, RetryOn,
    RetryPolicy, TenantLimits,
};
use crate::raw::{
    RawBreaker, RawEscalation, RawHealthCheck, RawIdempotency, RawLimits, RawResilience, RawRetry,
};

/// The gateway-wide settings plus the per-route defaults routes start from.
pub(super) struct Validated {
    pub resilience: Resilience,
    pub breaker: BreakerConfig,
    pub health_check: HealthCheckConfig,
}

pub(super) fn validate_resilience(raw: Option<RawResilience>, errors: &mut Errors) -> Validated {
    let RawResilience {
        breaker,
        health_check,
        retry,
        queue_timeout,
        idempotency,
        escalation,
    } = raw.unwrap_or_default();
    let defaults = Resilience::default();
    Validated {
        breaker: merge_breaker(
            &BreakerConfig::default(),
            breaker,
            "resilience.breaker",
            errors,
        ),
        health_check: merge_health_check(
            &HealthCheckConfig::default(),
            health_check,
            "resilience.health-check",
            errors,
        ),
        resilience: Resilience {
            retry: validate_retry(retry, errors),
            queue_timeout: queue_timeout.unwrap_or(defaults.queue_timeout),
            idempotency: validate_idempotency(idempotency, errors),
            escalation: validate_escalation(escalation, errors),
        },
    }
}

/// Applies the fields set in `raw` over `base`.
pub(super) fn merge_breaker(
    base: &BreakerConfig,
    raw: Option<RawBreaker>,
    path: &str,
    errors: &mut Errors,
) -> BreakerConfig {
    let Some(RawBreaker {
        window,
        min_requests,
        error_rate,
        consecutive_failures,
        open_for,
        half_open_trials,
        latency_slo,
        latency_open_factor,
        slow_start,
    }) = raw
    else {
        return *base;
    };
    let out = BreakerConfig {
        window: window.unwrap_or(base.window),
        min_requests: min_requests.unwrap_or(base.min_requests),
        error_rate: error_rate.unwrap_or(base.error_rate),
        consecutive_failures: consecutive_failures.unwrap_or(base.consecutive_failures),
        open_for: open_for.unwrap_or(base.open_for),
        half_open_trials: half_open_trials.unwrap_or(base.half_open_trials),
        latency_slo: latency_slo.or(base.latency_slo),
        latency_open_factor: latency_open_factor.unwrap_or(base.latency_open_factor),
        slow_start: slow_start.unwrap_or(base.slow_start),
    };
    positive_duration(errors, path, "window", out.window);
    positive_duration(errors, path, "open-for", out.open_for);
    at_least_one(errors, path, "min-requests", out.min_requests);
    at_least_one(
        errors,
        path,
        "consecutive-failures",
        out.consecutive_failures,
    );
    at_least_one(errors, path, "half-open-trials", out.half_open_trials);
    if !(out.error_rate > 0.0 && out.error_rate <= 1.0) {
        errors.push(
            format!("{path}.error-rate"),
            format!("must be in (0, 1], got {}", out.error_rate),
        );
    }
    if !(out.latency_open_factor.is_finite() && out.latency_open_factor > 1.0) {
        errors.push(
            format!("{path}.latency-open-factor"),
            format!("must be greater than 1, got {}", out.latency_open_factor),
        );
    }
    if out.latency_slo.is_some_and(|d| d.is_zero()) {
        errors.push(format!("{path}.latency-slo"), "must be greater than 0");
    }
    out
}

/// Applies the fields set in `raw` over `base`; the pattern must compile.
pub(super) fn merge_health_check(
    base: &HealthCheckConfig,
    raw: Option<RawHealthCheck>,
    path: &str,
    errors: &mut Errors,
) -> HealthCheckConfig {
    let Some(RawHealthCheck {
        mode,
        interval,
        timeout,
        prompt,
        expect,
    }) = raw
    else {
        return base.clone();
    };
    let out = HealthCheckConfig {
        mode: mode.unwrap_or(base.mode),
        interval: interval.unwrap_or(base.interval),
        timeout: timeout.unwrap_or(base.timeout),
        prompt: prompt.map_or_else(|| base.prompt.clone(), |t| t.0),
        expect: expect.map_or_else(|| base.expect.clone(), |t| t.0),
    };
    if out.interval < Duration::from_secs(1) {
        errors.push(
            format!("{path}.interval"),
            "must be at least 1s (probes are rate-limited)",
        );
    }
    positive_duration(errors, path, "timeout", out.timeout);
    if out.prompt.trim().is_empty() {
        errors.push(format!("{path}.prompt"), "must not be empty");
    }
    if let Err(e) = regex::Regex::new(&out.expect) {
        errors.push(format!("{path}.expect"), format!("invalid regex: {e}"));
    }
    out
}

fn validate_retry(raw: Option<RawRetry>, errors: &mut Errors) -> RetryPolicy {
    let d = RetryPolicy::default();
    let Some(RawRetry {
        attempts_per_route,
        backoff_base,
        backoff_max,
        deadline,
        budget_ratio,
        budget_min_retries,
        budget_window,
        retry_on,
    }) = raw
    else {
        return d;
    };
    let out = RetryPolicy {
        attempts_per_route: attempts_per_route.unwrap_or(d.attempts_per_route),
        backoff_base: backoff_base.unwrap_or(d.backoff_base),
        backoff_max: backoff_max.unwrap_or(d.backoff_max),
        deadline: deadline.unwrap_or(d.deadline),
        budget_ratio: budget_ratio.unwrap_or(d.budget_ratio),
        budget_min_retries: budget_min_retries.unwrap_or(d.budget_min_retries),
        budget_window: budget_window.unwrap_or(d.budget_window),
        retry_on: retry_on.map_or(d.retry_on, |c| RetryOn::of(&c)),
    };
    let path = "resilience.retry";
    if !(1..=10).contains(&out.attempts_per_route) {
        errors.push(
            format!("{path}.attempts-per-route"),
            format!("must be between 1 and 10, got {}", out.attempts_per_route),
        );
    }
    if out.backoff_max < out.backoff_base {
        errors.push(
            format!("{path}.backoff-max"),
            "must not be smaller than backoff-base",
        );
    }
    positive_duration(errors, path, "deadline", out.deadline);
    positive_duration(errors, path, "budget-window", out.budget_window);
    if !(0.0..=1.0).contains(&out.budget_ratio) {
        errors.push(
            format!("{path}.budget-ratio"),
            format!("must be in [0, 1], got {}", out.budget_ratio),
        );
    }
    out
}

fn validate_idempotency(raw: Option<RawIdempotency>, errors: &mut Errors) -> IdempotencyConfig {
    let d = IdempotencyConfig::default();
    let Some(RawIdempotency {
        ttl,
        max_entries,
        max_response_bytes,
    }) = raw
    else {
        return d;
    };
    let out = IdempotencyConfig {
        ttl: ttl.unwrap_or(d.ttl),
        max_entries: max_entries.unwrap_or(d.max_entries),
        max_response_bytes: max_response_bytes.unwrap_or(d.max_response_bytes),
    };
    positive_duration(errors, "resilience.idempotency", "ttl", out.ttl);
    if out.max_entries == 0 {
        errors.push("resilience.idempotency.max-entries", "must be at least 1");
    }
    out
}

fn validate_escalation(raw: Option<RawEscalation>, errors: &mut Errors) -> EscalationConfig {
    let webhook = raw.and_then(|r| r.webhook).map(|t| t.0);
    if let Some(url) = &webhook {
        let ok = url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            errors.push(
                "resilience.escalation.webhook",
                format!("{url:?} is not an http(s) URL"),
            );
        }
    }
    EscalationConfig { webhook }
}

/// Tenant limits: each set value must be at least 1.
pub(super) fn validate_limits(
    raw: Option<RawLimits>,
    path: &str,
    errors: &mut Errors,
) -> TenantLimits {
    let Some(RawLimits {
        concurrency,
        requests_per_minute,
        tokens_per_minute,
    }) = raw
    else {
        return TenantLimits::default();
    };
    let path = format!("{path}.limits");
    for (name, v) in [
        ("concurrency", concurrency.map(u64::from)),
        ("requests-per-minute", requests_per_minute.map(u64::from)),
        ("tokens-per-minute", tokens_per_minute),
    ] {
        if v == Some(0) {
            errors.push(
                format!("{path}.{name}"),
                "must be at least 1 (omit it for no limit)",
            );
        }
    }
    TenantLimits {
        concurrency,
        requests_per_minute,
        tokens_per_minute,
    }
}

/// A weight: finite and > 0, default 1.
pub(super) fn validate_weight(raw: Option<f64>, path: &str, errors: &mut Errors) -> f64 {
    let w = raw.unwrap_or(1.0);
    if !(w.is_finite() && w > 0.0) {
        errors.push(path, format!("must be a number greater than 0, got {w}"));
        return 1.0;
    }
    w
}

fn positive_duration(errors: &mut Errors, path: &str, name: &str, d: Duration) {
    if d.is_zero() {
        errors.push(format!("{path}.{name}"), "must be greater than 0");
    }
}

fn at_least_one(errors: &mut Errors, path: &str, name: &str, v: u32) {
    if v == 0 {
        errors.push(format!("{path}.{name}"), "must be at least 1");
    }
}
