//! Owns the small judgements route admission is made of: whether a route
//! is slow against its latency SLO, a half-open breaker's trial slots, the
//! slow-start ramp after recovery, and how a wait is written in a reason.

use signalbox_config::BreakerConfig;
use signalbox_core::SkipKind;
use tokio::time::{Duration, Instant};

use super::Admission;
use super::window::LatencyWindow;

pub(super) fn is_slow(latencies: &LatencyWindow, cfg: &BreakerConfig) -> bool {
    // The SLO is checked first: the percentile is only computed when needed.
    cfg.latency_slo.is_some_and(|slo| {
        latencies.len() >= cfg.min_requests as usize && latencies.p95().is_some_and(|p95| p95 > slo)
    })
}

/// Admission while half-open: a trial while fewer than
/// `half_open_trials` are in flight (`take` claims the slot). A trial that
/// never reported (its caller went away) frees its slot after one open
/// period.
pub(super) fn half_open(
    trials: &mut Vec<Instant>,
    cfg: &BreakerConfig,
    now: Instant,
    take: bool,
    reason: &str,
) -> Admission {
    trials.retain(|t| now.duration_since(*t) < cfg.open_for);
    if trials.len() < cfg.half_open_trials as usize {
        if take {
            trials.push(now);
        }
        return Admission::Trial;
    }
    Admission::Skip(
        SkipKind::HalfOpenFull,
        format!(
            "circuit half-open, {} trial(s) in flight ({reason})",
            trials.len()
        ),
    )
}

pub(super) fn ramp(recovered_at: Option<Instant>, slow_start: Duration, now: Instant) -> f64 {
    match recovered_at {
        Some(at) if !slow_start.is_zero() => {
            // Start at 10% so a recovered route proves itself without waiting.
            let f = now.duration_since(at).as_secs_f64() / slow_start.as_secs_f64();
            (0.1 + 0.9 * f).min(1.0)
        }
        _ => 1.0,
    }
}

pub(super) fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
