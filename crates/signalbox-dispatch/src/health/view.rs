//! Owns what operators and probes see of a route's health: the
//! point-in-time [`HealthView`] behind `/admin/routes`, metrics and records,
//! and the active probes (when one is due, and feeding its result to the
//! breaker).

use signalbox_state::unix_ms;
use tokio::time::{Duration, Instant};

use super::{Admission, BreakerState, Phase, RouteHealth, is_slow, ramp};

/// The last active probe of a route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeResult {
    /// Seconds since the probe ran.
    #[serde(skip)]
    pub at: Option<Instant>,
    /// Whether the answer came back and matched the expected pattern.
    pub ok: bool,
    /// Time to the answer, ms.
    pub latency_ms: f64,
    /// What failed, if anything.
    pub detail: String,
}

/// A point-in-time view for `/admin/routes`, metrics and records.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthView {
    /// `closed`, `half-open` or `open`.
    pub state: &'static str,
    /// Why the route is not fully healthy (empty when it is).
    pub reason: String,
    /// Recent p95 over its SLO.
    pub slow: bool,
    /// In a provider quota cooldown.
    pub cooling_down: bool,
    /// Seconds until the open period or cooldown ends.
    pub retry_in_secs: Option<f64>,
    /// Slow-start fraction (1 = full traffic).
    pub ramp: f64,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Attempts in the error-rate window.
    pub window_requests: u32,
    /// Error rate in the window.
    pub window_error_rate: f64,
    /// Recent p95 latency of successful attempts, ms.
    pub p95_ms: Option<f64>,
    /// Latency moving average, ms.
    pub latency_ms: Option<f64>,
    /// How many times the circuit has opened.
    pub times_opened: u64,
    /// The last active probe, if any ran.
    pub last_probe: Option<ProbeResult>,
    /// Seconds since the last probe.
    pub last_probe_age_secs: Option<f64>,
    /// Why the quality suites keep the route from serving, if they do.
    pub quality_regression: Option<String>,
    /// Which warn bars its last quality run missed (ranked lower), if any.
    pub quality_warning: Option<String>,
    /// The share of its traffic the quality loop leaves it: 1, or its
    /// `warn-weight` while warned (route-wide: every request; a request of
    /// an intent listed in `quality_share_by_intent` gets that share).
    pub quality_share: f64,
    /// Per intent the route is warned for (`quality.suites[].intents`),
    /// which warn bars its suites missed.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub quality_warning_by_intent: std::collections::BTreeMap<String, String>,
    /// Per intent the route is warned for, the share of that intent's
    /// requests it keeps: `quality_share` times the `warn-weight` (other
    /// intents keep `quality_share`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub quality_share_by_intent: std::collections::BTreeMap<String, f64>,
    /// Per intent, why a suite judging the route for it keeps it from
    /// serving that intent's requests (`quality.suites[].intents`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub quality_regression_by_intent: std::collections::BTreeMap<String, String>,
}

impl RouteHealth {
    /// Everything known about the route, for operators.
    pub fn view(&self) -> HealthView {
        let cfg = *self.config.lock();
        let now = Instant::now();
        let s = self.state.lock();
        let (total, failed) = s.outcomes.counts(now);
        let cooldown_left = s.cooldown_until.filter(|u| now < *u).map(|u| u - now);
        let open_left = match s.phase {
            Phase::Open { until } if now < until => Some(until - now),
            _ => None,
        };
        let state = match s.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
            // An expired open period becomes half-open at the next request.
            Phase::Open { until } if now >= until => BreakerState::HalfOpen,
            Phase::Open { .. } => BreakerState::Open,
        };
        let slow = is_slow(&s.latencies, &cfg);
        let last_probe = self.probe.lock().clone();
        let elsewhere = matches!(s.phase, Phase::Closed)
            .then(|| self.open_elsewhere())
            .flatten();
        let (state, open_left) = match &elsewhere {
            Some(other) => (
                BreakerState::Open,
                Some(Duration::from_millis(
                    other.open_until_ms.saturating_sub(unix_ms()),
                )),
            ),
            None => (state, open_left),
        };
        let warned_intents = self.quality.warned_intents();
        let mut reason = match &elsewhere {
            Some(other) => format!("opened by another replica: {}", other.reason),
            None => s.reason.clone(),
        };
        if reason.is_empty() && slow {
            reason = "p95 latency over the SLO".into();
        }
        HealthView {
            state: state.as_str(),
            reason,
            slow,
            cooling_down: cooldown_left.is_some(),
            retry_in_secs: open_left.or(cooldown_left).map(|d| d.as_secs_f64()),
            ramp: ramp(s.recovered_at, cfg.slow_start, now),
            consecutive_failures: s.consecutive_failures,
            window_requests: total,
            window_error_rate: if total == 0 {
                0.0
            } else {
                f64::from(failed) / f64::from(total)
            },
            p95_ms: s.latencies.p95().map(|d| d.as_secs_f64() * 1e3),
            latency_ms: self.latency().map(|d| d.as_secs_f64() * 1e3),
            times_opened: s.times_opened,
            last_probe_age_secs: last_probe
                .as_ref()
                .and_then(|p| p.at)
                .map(|at| now.duration_since(at).as_secs_f64()),
            last_probe,
            quality_regression: self.quality.closed(),
            quality_warning: self.quality.warning(),
            quality_share: self.quality.share(),
            quality_share_by_intent: warned_intents
                .iter()
                .map(|(i, _)| (i.clone(), self.quality.share_for(i)))
                .collect(),
            quality_warning_by_intent: warned_intents.into_iter().collect(),
            quality_regression_by_intent: self.quality.closed_intents().into_iter().collect(),
        }
    }

    /// Whether an active probe should run now: the route is not fully
    /// healthy (open past its period, half-open, slow or recovering) or
    /// `always` is set, and no probe ran within `interval`.
    pub fn probe_due(&self, always: bool, interval: Duration) -> bool {
        let now = Instant::now();
        if self
            .probe
            .lock()
            .as_ref()
            .and_then(|p| p.at)
            .is_some_and(|at| now.duration_since(at) < interval)
        {
            return false;
        }
        always || !matches!(self.peek(), Admission::Allowed { ramp, slow: false } if ramp >= 1.0)
    }

    /// Feeds a probe's result to the breaker: a good answer is a success
    /// (and closes a half-open circuit), a bad or wrong one a failure.
    pub fn record_probe(&self, result: ProbeResult) {
        let latency = Duration::from_secs_f64(result.latency_ms / 1e3);
        if result.ok {
            self.record_success(latency);
        } else {
            self.record_failure(&format!("probe: {}", result.detail));
        }
        *self.probe.lock() = Some(ProbeResult {
            at: Some(Instant::now()),
            ..result
        });
    }
}
