//! Owns a route's health: its circuit breaker (closed / open / half-open),
//! quota cooldowns, the latency window behind "slow but up", the slow
//! start after recovery, and the operator actions on the route itself: a
//! drain or a forced-open breaker keeps new requests off it (requests
//! already admitted finish), a forced-closed breaker admits requests
//! whatever the circuit says (a quota cooldown still applies).
//!
//! Every transition happens under one short `parking_lot` lock per route,
//! never held across an await; the ranking's latency estimate and the state
//! gauge are plain atomics so readers never lock.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use signalbox_config::BreakerConfig;
use signalbox_core::operator::OperatorAction;
use signalbox_core::{OutcomeClass, SkipKind};
use signalbox_state::{ActiveActions, BreakerStore, OpenCircuits, SharedBreaker, unix_ms};
use tokio::time::{Duration, Instant};

mod admit;
mod events;
mod quality;
mod view;
mod window;

pub use events::{BreakerEvent, BreakerEvents};
pub use quality::{DEFAULT_WARN_WEIGHT, QualityGate, QualityTransition};
pub use view::{HealthView, ProbeResult};

use admit::{half_open, is_slow, ramp, secs};
use events::EventLink;
use window::{LatencyWindow, OutcomeWindow};

/// Weight of the newest sample in the latency moving average.
const LATENCY_ALPHA: f64 = 0.2;
/// Longest cooldown a provider's `retry-after` can impose (the same bound
/// the provider layer clamps the value to, so the record, the caller's
/// `retry-after` and the cooldown agree).
const MAX_COOLDOWN: Duration =
    Duration::from_secs(signalbox_providers::classify::MAX_RETRY_AFTER_SECS);

/// The breaker's state, as reported in `/admin/routes` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Serving normally.
    Closed,
    /// Trial requests decide whether the route is back.
    HalfOpen,
    /// Not serving until the open period ends.
    Open,
}

impl BreakerState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half-open",
            Self::Open => "open",
        }
    }

    /// Gauge value: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

/// Whether a request may use the route now.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Serve normally. `ramp` < 1 while the route is in slow start;
    /// `slow` when its recent p95 is over its latency SLO.
    Allowed {
        /// Fraction of traffic the route should get (slow start), 0–1.
        ramp: f64,
        /// "Slow but up": rank below healthy routes.
        slow: bool,
    },
    /// A half-open trial: the outcome decides the circuit.
    Trial,
    /// Skip this route: the kind decides, the reason is recorded.
    Skip(SkipKind, String),
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { trials: Vec<Instant> },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    reason: String,
    consecutive_failures: u32,
    outcomes: OutcomeWindow,
    latencies: LatencyWindow,
    cooldown_until: Option<Instant>,
    recovered_at: Option<Instant>,
    times_opened: u64,
}

/// Where this route's open circuits are shared with other replicas.
#[derive(Debug)]
struct SharedLink {
    route: String,
    replica: u64,
    /// Where this route's opens and closes are published.
    store: Arc<dyn BreakerStore>,
    /// The store's view of open circuits, read per admission.
    open: Arc<OpenCircuits>,
}

/// Where this route's operator actions are read.
#[derive(Debug)]
struct OperatorLink {
    route: String,
    actions: Arc<ActiveActions>,
}

/// An operator action holding a route.
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    /// Drained or forced open: no new requests.
    Out(OperatorAction),
    /// Forced closed: admitted whatever the circuit says.
    ForcedClosed(OperatorAction),
}

/// One route's health.
#[derive(Debug)]
pub struct RouteHealth {
    shared: OnceLock<SharedLink>,
    operator: OnceLock<OperatorLink>,
    /// Where this route's transitions are reported, once linked.
    events: OnceLock<EventLink>,
    config: Mutex<BreakerConfig>,
    probe: Mutex<Option<ProbeResult>>,
    state: Mutex<State>,
    /// Exponentially weighted latency of successful attempts in µs, as `f64` bits.
    latency_us: AtomicU64,
    /// [`BreakerState`] as 0/1/2, for lock-free reads.
    gauge: AtomicU8,
    /// Whether the quality suites keep the route serving.
    pub quality: QualityGate,
}

impl Default for RouteHealth {
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

impl RouteHealth {
    /// A closed breaker with thresholds `config`.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Closed,
                reason: String::new(),
                consecutive_failures: 0,
                outcomes: OutcomeWindow::new(config.window),
                latencies: LatencyWindow::default(),
                cooldown_until: None,
                recovered_at: None,
                times_opened: 0,
            }),
            shared: OnceLock::new(),
            operator: OnceLock::new(),
            events: OnceLock::new(),
            config: Mutex::new(config),
            probe: Mutex::new(None),
            latency_us: AtomicU64::new(0),
            gauge: AtomicU8::new(0),
            quality: QualityGate::default(),
        }
    }

    /// Shares this route's open circuits through `store` as `replica`
    /// (once; a reload keeps the first link).
    pub fn share(&self, route: &str, replica: u64, store: Arc<dyn BreakerStore>) {
        let _ = self.shared.set(SharedLink {
            route: route.to_owned(),
            replica,
            open: store.snapshot(),
            store,
        });
    }

    /// Reads operator actions on this route from `actions` (once; a reload
    /// keeps the first link, as the store outlives reloads).
    pub fn watch_actions(&self, route: &str, actions: Arc<ActiveActions>) {
        let _ = self.operator.set(OperatorLink {
            route: route.to_owned(),
            actions,
        });
    }

    /// The operator action holding this route now, if any (one lock-free
    /// load; no scan while no action is in force anywhere).
    pub fn hold(&self) -> Option<Hold> {
        let link = self.operator.get()?;
        let set = link.actions.guard();
        if set.is_empty() {
            return None;
        }
        let now = unix_ms();
        if let Some(a) = set.blocks_route(&link.route, now) {
            return Some(Hold::Out(a.clone()));
        }
        set.forced_closed(&link.route, now)
            .map(|a| Hold::ForcedClosed(a.clone()))
    }

    /// An open circuit another replica published, if any: read from the
    /// store's snapshot (a lock-free load; no lookup while nothing is open).
    fn open_elsewhere(&self) -> Option<SharedBreaker> {
        let link = self.shared.get()?;
        link.open.open_elsewhere(&link.route, link.replica)
    }

    /// Applies new thresholds (a reload), keeping what has been observed.
    pub fn reconfigure(&self, config: BreakerConfig) {
        let mut cfg = self.config.lock();
        if cfg.window != config.window {
            self.state.lock().outcomes = OutcomeWindow::new(config.window);
        }
        *cfg = config;
    }

    /// How long until the route admits requests again when it is shut for
    /// a known time (quota cooldown, open circuit — here or on another
    /// replica); `None` when it admits now or the wait is unknown (a
    /// half-open route whose trial slots are taken).
    pub fn available_in(&self) -> Option<Duration> {
        let now = Instant::now();
        let (cooldown, open, closed) = {
            let s = self.state.lock();
            let cooldown = s.cooldown_until.filter(|u| *u > now).map(|u| u - now);
            let (open, closed) = match s.phase {
                Phase::Open { until } => (Some(until.saturating_duration_since(now)), false),
                Phase::HalfOpen { .. } => (None, false),
                Phase::Closed => (None, true),
            };
            (cooldown, open.filter(|d| !d.is_zero()), closed)
        };
        let elsewhere = if closed {
            self.open_elsewhere()
                .map(|o| Duration::from_millis(o.open_until_ms.saturating_sub(unix_ms())))
        } else {
            None
        };
        cooldown.max(open).max(elsewhere.filter(|d| !d.is_zero()))
    }

    /// What [`Self::admit`] would answer now, without taking a trial slot.
    pub fn peek(&self) -> Admission {
        self.admission(false)
    }

    /// Decides whether a request may use the route now; a `Trial` answer
    /// takes one of the half-open trial slots.
    pub fn admit(&self) -> Admission {
        self.admission(true)
    }

    /// What operators and the quality suites say before the breaker does:
    /// a skip, or whether an operator forced the circuit closed.
    fn overrides(&self) -> Result<bool, Admission> {
        let forced_closed = match self.hold() {
            Some(Hold::Out(action)) => {
                return Err(Admission::Skip(SkipKind::Operator, action.cite()));
            }
            Some(Hold::ForcedClosed(_)) => true,
            None => false,
        };
        // A route an operator forced closed serves whatever its quality runs say.
        match self.quality.closed().filter(|_| !forced_closed) {
            Some(why) => Err(Admission::Skip(SkipKind::QualityRegression, why)),
            None => Ok(forced_closed),
        }
    }

    fn admission(&self, take: bool) -> Admission {
        let forced_closed = match self.overrides() {
            Ok(forced) => forced,
            Err(skip) => return skip,
        };
        let cfg = *self.config.lock();
        let now = Instant::now();
        let mut guard = self.state.lock();
        // Fields borrowed apart below (the phase mutably, the reason read).
        let s = &mut *guard;
        if let Some(until) = s.cooldown_until {
            if now < until {
                return Admission::Skip(
                    SkipKind::Cooldown,
                    format!(
                        "quota cooldown for {} more ({})",
                        secs(until - now),
                        s.reason
                    ),
                );
            }
            s.cooldown_until = None;
        }
        if forced_closed {
            return Admission::Allowed {
                ramp: 1.0,
                slow: is_slow(&s.latencies, &cfg),
            };
        }
        match &mut s.phase {
            Phase::Open { until } if now < *until => {
                let left = *until - now;
                Admission::Skip(
                    SkipKind::CircuitOpen,
                    format!("circuit open for {} more ({})", secs(left), s.reason),
                )
            }
            Phase::Open { .. } if !take => Admission::Trial,
            Phase::Open { .. } => {
                s.phase = Phase::HalfOpen { trials: vec![now] };
                self.gauge.store(1, Ordering::Relaxed);
                let why = format!(
                    "open period over, trial admitted (opened for: {})",
                    s.reason
                );
                self.transition(BreakerState::Open, BreakerState::HalfOpen, &why);
                Admission::Trial
            }
            Phase::HalfOpen { trials } => half_open(trials, &cfg, now, take, &s.reason),
            Phase::Closed => match self.open_elsewhere() {
                Some(other) => Admission::Skip(
                    SkipKind::OpenElsewhere,
                    format!(
                        "circuit open for {} more on another replica ({})",
                        secs(Duration::from_millis(
                            other.open_until_ms.saturating_sub(unix_ms())
                        )),
                        other.reason
                    ),
                ),
                None => Admission::Allowed {
                    ramp: ramp(s.recovered_at, cfg.slow_start, now),
                    slow: is_slow(&s.latencies, &cfg),
                },
            },
        }
    }

    /// Records the outcome of an attempt. `latency` is the time to the
    /// answer (streams: to the first event).
    pub fn record(&self, outcome: OutcomeClass, latency: Duration, retry_after: Option<Duration>) {
        match outcome {
            OutcomeClass::Success => self.record_success(latency),
            OutcomeClass::RateLimited => self.record_rate_limited(retry_after),
            // The provider answered; the request was at fault. Neither health
            // nor sickness.
            OutcomeClass::RequestRejected => {}
            _ => self.record_failure(outcome.label()),
        }
    }

    /// A usable answer.
    pub fn record_success(&self, latency: Duration) {
        self.record_latency(latency);
        self.record_ok();
    }

    /// A stream's time to its first event: latency only. Whether the stream
    /// was a success is known when it ends ([`Self::record_ok`] or
    /// [`Self::record_failure`]).
    pub fn record_latency(&self, latency: Duration) {
        self.note_latency(latency);
        let cfg = *self.config.lock();
        let mut s = self.state.lock();
        s.latencies.push(latency);
        if matches!(s.phase, Phase::Closed)
            && let Some(slo) = cfg.latency_slo
            && s.latencies.len() >= cfg.min_requests as usize
            && let Some(p95) = s.latencies.p95()
            && p95.as_secs_f64() > slo.as_secs_f64() * cfg.latency_open_factor
        {
            let reason = format!(
                "p95 latency {} is over {}× the {} SLO",
                secs(p95),
                cfg.latency_open_factor,
                secs(slo)
            );
            self.open(&mut s, &cfg, Instant::now(), reason);
        }
    }

    /// An attempt that ended well (for streams: at their end marker).
    pub fn record_ok(&self) {
        let cfg = *self.config.lock();
        let now = Instant::now();
        let mut s = self.state.lock();
        s.consecutive_failures = 0;
        s.outcomes.push(now, false);
        match s.phase {
            // A request that started before the circuit opened proves nothing.
            Phase::Open { .. } => {}
            Phase::HalfOpen { .. } => {
                s.phase = Phase::Closed;
                s.reason.clear();
                if let Some(link) = self.shared.get() {
                    link.store.publish_closed(&link.route);
                }
                s.recovered_at = (!cfg.slow_start.is_zero()).then_some(now);
                s.outcomes.clear();
                s.latencies.clear();
                self.gauge.store(0, Ordering::Relaxed);
                let why = "half-open trial succeeded";
                self.transition(BreakerState::HalfOpen, BreakerState::Closed, why);
            }
            Phase::Closed => {}
        }
    }

    /// A failure that was the route's fault (not the request's).
    pub fn record_failure(&self, what: &str) {
        let cfg = *self.config.lock();
        let now = Instant::now();
        let mut s = self.state.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        s.outcomes.push(now, true);
        match s.phase {
            Phase::HalfOpen { .. } => {
                let reason = format!("half-open trial failed: {what}");
                self.open(&mut s, &cfg, now, reason);
            }
            Phase::Open { .. } => {}
            Phase::Closed => {
                let (total, failed) = s.outcomes.counts(now);
                if s.consecutive_failures >= cfg.consecutive_failures {
                    let reason = format!(
                        "{} failures in a row (last: {what})",
                        s.consecutive_failures
                    );
                    self.open(&mut s, &cfg, now, reason);
                } else if total >= cfg.min_requests
                    && f64::from(failed) / f64::from(total) >= cfg.error_rate
                {
                    let reason = format!(
                        "error rate {failed}/{total} over {} (threshold {:.0}%)",
                        secs(cfg.window),
                        cfg.error_rate * 100.0
                    );
                    self.open(&mut s, &cfg, now, reason);
                }
            }
        }
    }

    /// A 429: the route cools down until the provider's reset instead of
    /// counting as an error, and comes back by itself.
    pub fn record_rate_limited(&self, retry_after: Option<Duration>) {
        // Without a reset hint, a short cooldown keeps a hot loop off the route.
        let wait = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(MAX_COOLDOWN);
        let now = Instant::now();
        let mut s = self.state.lock();
        s.cooldown_until = Some(now + wait);
        s.reason = format!("rate limited by the provider; retry after {}", secs(wait));
        // A half-open trial that hit a quota proves nothing; let another try later.
        if let Phase::HalfOpen { trials } = &mut s.phase {
            trials.clear();
        }
    }

    fn open(&self, s: &mut State, cfg: &BreakerConfig, now: Instant, reason: String) {
        tracing::warn!(%reason, "Circuit opened.");
        self.transition(s.phase.state(), BreakerState::Open, &reason);
        s.phase = Phase::Open {
            until: now + cfg.open_for,
        };
        s.reason = reason;
        s.recovered_at = None;
        s.times_opened += 1;
        s.latencies.clear();
        self.gauge.store(2, Ordering::Relaxed);
        if let Some(link) = self.shared.get() {
            let open_ms = u64::try_from(cfg.open_for.as_millis()).unwrap_or(u64::MAX);
            link.store.publish_open(
                &link.route,
                SharedBreaker {
                    replica: link.replica,
                    open_until_ms: unix_ms().saturating_add(open_ms),
                    reason: s.reason.clone(),
                },
            );
        }
    }

    fn note_latency(&self, latency: Duration) {
        let sample = latency.as_secs_f64() * 1e6;
        // A lost update under a race only skips one sample; no lock needed.
        let old = f64::from_bits(self.latency_us.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            sample
        } else {
            old + LATENCY_ALPHA * (sample - old)
        };
        self.latency_us
            .store(new.max(1.0).to_bits(), Ordering::Relaxed);
    }

    /// The latency moving average, once the route has served.
    pub fn latency(&self) -> Option<Duration> {
        let us = f64::from_bits(self.latency_us.load(Ordering::Relaxed));
        (us > 0.0).then(|| Duration::from_secs_f64(us / 1e6))
    }

    /// The breaker state, read without locking.
    pub fn state(&self) -> BreakerState {
        match self.gauge.load(Ordering::Relaxed) {
            0 => BreakerState::Closed,
            1 => BreakerState::HalfOpen,
            _ => BreakerState::Open,
        }
    }

    /// Whether the route can serve now or will take a trial (readiness).
    pub fn usable(&self) -> bool {
        let hold = self.hold();
        let now = Instant::now();
        let s = self.state.lock();
        let cooling = s.cooldown_until.is_some_and(|u| now < u);
        let open = matches!(s.phase, Phase::Open { until } if now < until);
        drop(s);
        match hold {
            Some(Hold::Out(_)) => false,
            Some(Hold::ForcedClosed(_)) => !cooling,
            None => !cooling && !open && self.open_elsewhere().is_none(),
        }
    }

    /// Failures in a row since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.state.lock().consecutive_failures
    }
}

#[cfg(test)]
mod tests;
