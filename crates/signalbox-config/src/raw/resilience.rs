//! Resilience settings as written. Every field is optional: a route's
//! `breaker` / `health-check` override the gateway-wide `resilience` ones,
//! which override the built-in defaults.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::ProbeMode;
use crate::text::Text;

/// Gateway-wide resilience settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Resilience")]
pub(crate) struct RawResilience {
    /// Defaults for every route's circuit breaker.
    pub breaker: Option<RawBreaker>,
    /// Defaults for every route's active health check.
    pub health_check: Option<RawHealthCheck>,
    /// Attempts, backoff, deadline, retry budget.
    pub retry: Option<RawRetry>,
    /// Longest wait for a slot on a route at its `max-concurrency`. Default `5s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub queue_timeout: Option<Duration>,
    /// `Idempotency-Key` handling.
    pub idempotency: Option<RawIdempotency>,
    /// Human escalation.
    pub escalation: Option<RawEscalation>,
}

/// Circuit-breaker thresholds.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Breaker")]
pub(crate) struct RawBreaker {
    /// Sliding window for the error rate. Default `30s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub window: Option<Duration>,
    /// Attempts in the window before the error rate counts. Default 10; ≥ 1.
    pub min_requests: Option<u32>,
    /// Error rate in (0, 1] that opens the circuit. Default 0.5.
    pub error_rate: Option<f64>,
    /// Failures in a row that open the circuit. Default 5; ≥ 1.
    pub consecutive_failures: Option<u32>,
    /// How long the circuit stays open before a trial. Default `30s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub open_for: Option<Duration>,
    /// Trial requests while half-open. Default 1; ≥ 1.
    pub half_open_trials: Option<u32>,
    /// p95 above this marks the route degraded. Default none.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub latency_slo: Option<Duration>,
    /// p95 above latency-slo × this opens the circuit. Default 3; > 1.
    pub latency_open_factor: Option<f64>,
    /// Ramp back over this long after recovery. Default `30s`; `0s` disables.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub slow_start: Option<Duration>,
}

/// Active health check.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "HealthCheck")]
pub(crate) struct RawHealthCheck {
    /// `when-unhealthy` (default), `always` or `off`.
    pub mode: Option<ProbeMode>,
    /// At most one probe per interval. Default `15s`; ≥ 1s.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub interval: Option<Duration>,
    /// Probe deadline. Default `10s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    /// User message sent. Default "Reply with the single word OK."
    pub prompt: Option<Text>,
    /// Regex the answer must match. Default `(?i)\bok\b`.
    pub expect: Option<Text>,
}

/// Retry settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Retry")]
pub(crate) struct RawRetry {
    /// Tries per route before the next route. Default 1; 1–10.
    pub attempts_per_route: Option<u32>,
    /// First same-route backoff (doubles, full jitter). Default `100ms`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub backoff_base: Option<Duration>,
    /// Largest backoff. Default `2s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub backoff_max: Option<Duration>,
    /// No attempt starts later than this after arrival. Default `120s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub deadline: Option<Duration>,
    /// Retries ≤ this fraction of recent requests. Default 0.2; 0–1.
    pub budget_ratio: Option<f64>,
    /// Retries always allowed per window. Default 10.
    pub budget_min_retries: Option<u32>,
    /// Budget window. Default `10s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub budget_window: Option<Duration>,
    /// Failure classes that earn a same-route retry (when
    /// `attempts-per-route` > 1). Default `[connect-error, server-error,
    /// rate-limited]`; `timeout` and `bad-response` are opt-in.
    pub retry_on: Option<Vec<crate::model::RetryClass>>,
}

/// Idempotency settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Idempotency")]
pub(crate) struct RawIdempotency {
    /// How long responses are replayed. Default `10m`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub ttl: Option<Duration>,
    /// Most stored responses. Default 10000; ≥ 1.
    pub max_entries: Option<usize>,
    /// Largest stored response in bytes. Default 1048576.
    pub max_response_bytes: Option<usize>,
}

/// Human escalation.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Escalation")]
pub(crate) struct RawEscalation {
    /// `http(s)://…` receiving a JSON POST per escalation. Default none.
    pub webhook: Option<Text>,
}

/// Per-tenant limits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "TenantLimits")]
pub(crate) struct RawLimits {
    /// Requests in flight at once; ≥ 1.
    pub concurrency: Option<u32>,
    /// Requests per minute; ≥ 1.
    pub requests_per_minute: Option<u32>,
    /// Estimated tokens (prompt + requested output) per minute; ≥ 1.
    pub tokens_per_minute: Option<u64>,
}
