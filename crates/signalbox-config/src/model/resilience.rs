//! Resilience settings: circuit breakers, retries and their budget, active
//! health checks, idempotency, human escalation, and tenant limits.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

/// Gateway-wide resilience settings (per-route parts live on the route).
#[derive(Debug, Clone, PartialEq)]
pub struct Resilience {
    /// Attempts, backoff, deadline and the retry budget.
    pub retry: RetryPolicy,
    /// Longest wait for a slot on a route at its `max-concurrency`.
    pub queue_timeout: Duration,
    /// `Idempotency-Key` handling.
    pub idempotency: IdempotencyConfig,
    /// Where human-escalation degradations are announced.
    pub escalation: EscalationConfig,
}

impl Default for Resilience {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            queue_timeout: Duration::from_secs(5),
            idempotency: IdempotencyConfig::default(),
            escalation: EscalationConfig::default(),
        }
    }
}

/// When a route's circuit opens and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// The sliding window over which the error rate is measured.
    pub window: Duration,
    /// Attempts in the window before the error rate may open the circuit.
    pub min_requests: u32,
    /// Error rate (0–1] in the window that opens the circuit.
    pub error_rate: f64,
    /// Failures in a row that open the circuit.
    pub consecutive_failures: u32,
    /// How long an opened circuit stays open before a trial.
    pub open_for: Duration,
    /// Trial requests let through while half-open.
    pub half_open_trials: u32,
    /// Recent p95 latency above this marks the route degraded ("slow but up").
    pub latency_slo: Option<Duration>,
    /// p95 above `latency_slo × this` opens the circuit.
    pub latency_open_factor: f64,
    /// After recovery, traffic returns over this long (slow start).
    pub slow_start: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_requests: 10,
            error_rate: 0.5,
            consecutive_failures: 5,
            open_for: Duration::from_secs(30),
            half_open_trials: 1,
            latency_slo: None,
            latency_open_factor: 3.0,
            slow_start: Duration::from_secs(30),
        }
    }
}

/// When active probes run against a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeMode {
    /// Probe only while the route is open, half-open or degraded, to detect
    /// recovery without spending traffic on healthy routes.
    #[default]
    WhenUnhealthy,
    /// Probe on every interval.
    Always,
    /// Never probe.
    Off,
}

impl ProbeMode {
    /// The kebab-case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WhenUnhealthy => "when-unhealthy",
            Self::Always => "always",
            Self::Off => "off",
        }
    }
}

/// An active health check: a cheap request whose answer must match a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheckConfig {
    /// When probes run.
    pub mode: ProbeMode,
    /// At most one probe per route per interval.
    pub interval: Duration,
    /// Deadline of one probe.
    pub timeout: Duration,
    /// The user message sent.
    pub prompt: String,
    /// Regex the answer's text must match (quality, not just HTTP 200).
    pub expect: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            mode: ProbeMode::WhenUnhealthy,
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            prompt: "Reply with the single word OK.".into(),
            expect: "(?i)\\bok\\b".into(),
        }
    }
}

/// Bounded, deterministic retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries per route before moving to the next one (1 = no same-route retry).
    pub attempts_per_route: u32,
    /// First backoff before a same-route retry; doubles each time.
    pub backoff_base: Duration,
    /// Largest single backoff.
    pub backoff_max: Duration,
    /// No attempt starts after this much time since the request arrived.
    pub deadline: Duration,
    /// Retries allowed as a fraction of recent requests (Envoy-style budget).
    pub budget_ratio: f64,
    /// Retries always allowed per budget window, whatever the ratio says.
    pub budget_min_retries: u32,
    /// The window the budget counts over.
    pub budget_window: Duration,
    /// Which failure classes earn a same-route retry (the others move on
    /// to the next route at once).
    pub retry_on: RetryOn,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts_per_route: 1,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            deadline: Duration::from_secs(120),
            budget_ratio: 0.2,
            budget_min_retries: 10,
            budget_window: Duration::from_secs(10),
            retry_on: RetryOn::DEFAULT,
        }
    }
}

/// A failure class an operator may grant same-route retries (`retry-on`).
/// A rejected request, refused credentials and a cut stream are never
/// retried on the same route, so they cannot be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RetryClass {
    /// The connection could not be made.
    ConnectError,
    /// 5xx.
    ServerError,
    /// 429 whose `retry-after` is within `backoff-max` (waited out; a
    /// longer or unknown wait moves on to the next route).
    RateLimited,
    /// A 2xx the gateway could not use.
    BadResponse,
    /// A connect, first-byte, first-token or total deadline passed.
    /// Off by default: retrying silence only multiplies the caller's wait.
    Timeout,
}

impl RetryClass {
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The set of [`RetryClass`]es granted same-route retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOn(u8);

impl RetryOn {
    /// Connect errors, server errors and short rate-limit waits.
    pub const DEFAULT: Self = Self(
        RetryClass::ConnectError.bit()
            | RetryClass::ServerError.bit()
            | RetryClass::RateLimited.bit(),
    );

    /// The set of exactly `classes`.
    pub fn of(classes: &[RetryClass]) -> Self {
        Self(classes.iter().fold(0, |acc, c| acc | c.bit()))
    }

    /// Whether `class` is granted same-route retries.
    pub fn contains(self, class: RetryClass) -> bool {
        self.0 & class.bit() != 0
    }
}

/// How `Idempotency-Key` responses are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// How long a stored response is replayed.
    pub ttl: Duration,
    /// Most stored responses; the oldest are evicted first.
    pub max_entries: usize,
    /// Largest response stored for replay.
    pub max_response_bytes: usize,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            max_entries: 10_000,
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// Human escalation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EscalationConfig {
    /// URL that receives a JSON POST (request id, tenant, reason) on escalation.
    pub webhook: Option<String>,
}

/// Per-tenant limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TenantLimits {
    /// Requests in flight at once.
    pub concurrency: Option<u32>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Estimated prompt + requested output tokens per minute.
    pub tokens_per_minute: Option<u64>,
}
