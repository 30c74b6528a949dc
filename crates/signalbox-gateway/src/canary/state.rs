//! Owns one canary's state machine, with no I/O: what each arm has shown
//! in the current step (requests, errors, latencies, cost, answer scores),
//! and the step itself. [`State::evaluate`] rolls the canary back as soon
//! as the canary arm, on at least `min_requests` requests, regresses
//! against the baseline arm beyond a declared threshold (or the quality
//! loop disables its route, or a prompt canary's version scores in the
//! scheduled runs more than `eval-drop` below the baseline version, or
//! below a suite's floor that the baseline keeps: `evals.rs`), and
//! promotes it to the next step once a window of `min_duration` with at
//! least `min_requests` is clean (and, with suites, evaluated and above
//! their floors).
//! Promotion to a 100 % step completes the rollout.

use std::collections::HashMap;

use signalbox_config::CanaryConfig;
use signalbox_state::{RolloutStep, StepCounts, unix_ms};

use super::counts::{self, Counts};
use super::evals::Evals;
use tokio::time::{Duration, Instant};

/// Which arm a request is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    /// The route serving today.
    Baseline,
    /// The route rolled out.
    Canary,
}

impl Arm {
    /// The arm's name in records, metrics and the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Canary => "canary",
        }
    }
}

/// What one request showed of its arm's route.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sample {
    /// The arm's route did not serve it (it failed, or was passed over).
    pub error: bool,
    /// Until the response head, when the arm's route served it.
    pub latency_ms: Option<f64>,
    /// Its usage at the route's price, when known.
    pub cost_usd: Option<f64>,
    /// Whether its answer's tool calls and structured output were valid,
    /// when it had any to judge.
    pub valid: Option<bool>,
}

/// The arms' names in the shared counters (in [`Arm`] order).
const ARM_NAMES: [&str; 2] = ["b", "c"];

/// Latencies kept per arm and step for the p95 (the newest overwrite the
/// oldest beyond this).
const MAX_LATENCIES: usize = 4096;

/// One arm's numbers in the current step: this replica's own (exact
/// latencies and cost, and as counters) and what the other replicas
/// counted (`others`, from the shared store); every figure below is of
/// both together.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArmStats {
    /// This replica's counters.
    mine: Counts,
    latencies: Vec<f64>,
    cost_sum: f64,
    /// `mine` as last flushed to the shared store.
    flushed: Counts,
    /// Every other replica's counters, as the store last answered.
    pub others: Counts,
}

impl ArmStats {
    fn record(&mut self, s: Sample) {
        let m = &mut self.mine;
        m.requests += 1;
        m.errors += u64::from(s.error);
        if let Some(l) = s.latency_ms {
            m.time(l);
            if self.latencies.len() < MAX_LATENCIES {
                self.latencies.push(l);
            } else {
                let slot = (m.requests as usize) % MAX_LATENCIES;
                self.latencies[slot] = l;
            }
        }
        if let Some(c) = s.cost_usd {
            self.cost_sum += c;
            m.cost_nanos += counts::nanos(c);
            m.costed += 1;
        }
        if let Some(v) = s.valid {
            m.scored += 1;
            m.passed += u64::from(v);
        }
    }

    /// What was counted here since the last flush (now flushed).
    fn flush(&mut self) -> Counts {
        let delta = self.mine.since(&self.flushed);
        self.flushed = self.mine.clone();
        delta
    }

    /// Requests of every replica.
    pub fn requests(&self) -> u64 {
        self.mine.requests + self.others.requests
    }

    /// Errors of every replica.
    pub fn errors(&self) -> u64 {
        self.mine.errors + self.others.errors
    }

    /// Errors per request (0 with no requests).
    pub fn error_rate(&self) -> f64 {
        self.errors() as f64 / self.requests().max(1) as f64
    }

    /// The 95th-percentile latency, when any was measured (exact on this
    /// replica's own; other replicas' from their latency buckets).
    pub fn p95_ms(&self) -> Option<f64> {
        if self.others.timed() > 0 {
            return counts::p95(&self.latencies, &self.others);
        }
        if self.latencies.is_empty() {
            return None;
        }
        let mut l = self.latencies.clone();
        l.sort_by(f64::total_cmp);
        let rank = ((l.len() as f64) * 0.95).ceil() as usize;
        l.get(rank.saturating_sub(1)).copied()
    }

    /// Mean cost per priced request.
    pub fn cost_per_request(&self) -> Option<f64> {
        let costed = self.mine.costed + self.others.costed;
        let sum = self.cost_sum + self.others.cost_nanos as f64 / 1e9;
        (costed > 0).then(|| sum / costed as f64)
    }

    /// Share of judged answers that were valid.
    pub fn pass_rate(&self) -> Option<f64> {
        let scored = self.mine.scored + self.others.scored;
        let passed = self.mine.passed + self.others.passed;
        (scored > 0).then(|| passed as f64 / scored as f64)
    }

    /// The arm in one line, for events.
    fn describe(&self) -> String {
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or_else(|| "-".into(), f);
        let elsewhere = match self.others.requests {
            0 => String::new(),
            n => format!(" ({n} on other replicas)"),
        };
        format!(
            "{} req{elsewhere}, errors {:.1}%, p95 {}, cost/req {}, valid answers {}",
            self.requests(),
            self.error_rate() * 100.0,
            opt(self.p95_ms(), &|v| format!("{v:.0}ms")),
            opt(self.cost_per_request(), &|v| format!("${v:.6}")),
            opt(self.pass_rate(), &|v| format!("{:.0}%", v * 100.0)),
        )
    }
}

/// Where the rollout is (the store's phase: a step is shared as is).
pub(crate) use signalbox_state::RolloutPhase as Phase;

/// What kind of step an event is.
pub(crate) use signalbox_state::StepKind as EventKind;

/// One step of the rollout, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The canary's share before and after, in basis points.
    pub from_bp: u32,
    pub to_bp: u32,
    /// What the arms showed, and why.
    pub evidence: String,
    /// How long after the rollout began.
    pub after: Duration,
}

/// One canary's rollout.
#[derive(Debug)]
pub(crate) struct State {
    pub phase: Phase,
    started: Instant,
    step_started: Instant,
    pub arms: [ArmStats; 2],
    /// Every step so far, oldest first (bounded).
    pub events: Vec<Event>,
    /// The shared rollout's generation this state stands on (0: not
    /// shared yet).
    pub generation: u64,
    /// A step taken here while the store could not be reached, not shared yet.
    pub pending: bool,
    /// Why the current step waits on the eval scores although nothing
    /// regressed (a prompt canary's version below a suite's floor within
    /// the margin of a baseline as low), as of the last evaluation.
    pub held: Option<String>,
}

/// Events kept per canary.
const MAX_EVENTS: usize = 64;

impl State {
    /// A rollout that begins now at its first step.
    pub fn new(cfg: &CanaryConfig) -> Self {
        let now = Instant::now();
        let mut s = Self {
            phase: Phase::Stepping(0),
            started: now,
            step_started: now,
            arms: Default::default(),
            events: Vec::new(),
            generation: 0,
            pending: false,
            held: None,
        };
        let to_bp = s.share_bp(cfg);
        s.push(Event {
            kind: EventKind::Started,
            from_bp: 0,
            to_bp,
            evidence: {
                let (baseline, canary) = cfg.subject.arms();
                format!("rollout of {canary} next to {baseline} begins")
            },
            after: Duration::ZERO,
        });
        s
    }

    /// The canary arm's share now, in basis points.
    pub fn share_bp(&self, cfg: &CanaryConfig) -> u32 {
        match self.phase {
            Phase::Stepping(i) => cfg.steps_bp.get(i).copied().unwrap_or(0),
            Phase::Completed => 10_000,
            Phase::RolledBack => 0,
        }
    }

    /// Counts one request of `arm`.
    pub fn record(&mut self, arm: Arm, sample: Sample) {
        if matches!(self.phase, Phase::Stepping(_)) {
            self.arms[arm as usize].record(sample);
        }
    }

    /// Rolls back, promotes or leaves the rollout; the event when it moved.
    /// `quality` is why the quality loop keeps the canary route from
    /// serving, if it does; `evals`, a prompt canary's scheduled scores.
    pub fn evaluate(
        &mut self,
        cfg: &CanaryConfig,
        quality: Option<String>,
        evals: Option<&Evals<'_>>,
    ) -> Option<Event> {
        let Phase::Stepping(step) = self.phase else {
            return None;
        };
        let now = Instant::now();
        let from_bp = self.share_bp(cfg);
        let [base, can] = &self.arms;
        let arms = format!("canary: {}; baseline: {}", can.describe(), base.describe());
        // The step's start on the wall clock the scores are kept by.
        let since = signalbox_core::clock::unix_secs()
            .saturating_sub(now.duration_since(self.step_started).as_secs());
        self.held = evals.and_then(|e| e.held(since));
        let regression = match quality {
            Some(why) => Some(format!(
                "the quality loop disabled {}: {why}",
                cfg.subject.arms().1
            )),
            // Scheduled runs need no live traffic to be evidence.
            None => evals.and_then(|e| e.regression(since)).or_else(|| {
                (can.requests() >= cfg.min_requests)
                    .then(|| regression(cfg, base, can))
                    .flatten()
            }),
        };
        let (kind, phase, evidence) = if let Some(why) = regression {
            (
                EventKind::RolledBack,
                Phase::RolledBack,
                format!("{why} ({arms})"),
            )
        } else if can.requests() >= cfg.min_requests
            && now.duration_since(self.step_started) >= cfg.min_duration
            && evals.is_none_or(|e| e.evaluated(since))
            && self.held.is_none()
        {
            let next = step + 1;
            let evals = evals.map(|e| e.describe(since)).unwrap_or_default();
            let evidence = format!("clean window of {:?}: {arms}{evals}", cfg.min_duration);
            match cfg.steps_bp.get(next) {
                Some(&bp) if bp < 10_000 => (EventKind::Promoted, Phase::Stepping(next), evidence),
                _ => (EventKind::Completed, Phase::Completed, evidence),
            }
        } else {
            return None;
        };
        self.phase = phase;
        self.step_started = now;
        self.arms = Default::default();
        self.held = None;
        let event = Event {
            kind,
            from_bp,
            to_bp: self.share_bp(cfg),
            evidence,
            after: now.duration_since(self.started),
        };
        self.push(event.clone());
        Some(event)
    }

    /// `event` (the last step taken here) as the store keeps it, by `replica`.
    pub fn shared_step(&self, replica: u64, event: &Event) -> RolloutStep {
        let now = unix_ms();
        let age = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(0);
        RolloutStep {
            generation: self.generation + 1,
            phase: self.phase,
            kind: event.kind,
            from_bp: event.from_bp,
            to_bp: event.to_bp,
            evidence: event.evidence.clone(),
            replica,
            started_ms: now.saturating_sub(age),
            at_ms: now,
        }
    }

    /// Takes the shared rollout's step when it differs from this state
    /// (another replica stepped): its phase, a fresh window, and the step
    /// as an event. `false` when the phase did not change.
    pub fn adopt(&mut self, cfg: &CanaryConfig, step: &RolloutStep) -> bool {
        let changed = step.phase != self.phase;
        self.generation = step.generation;
        self.pending = false;
        if !changed {
            return false;
        }
        let now = Instant::now();
        let since = Duration::from_millis(unix_ms().saturating_sub(step.at_ms));
        self.phase = step.phase;
        self.step_started = now.checked_sub(since).unwrap_or(now);
        self.arms = Default::default();
        self.held = None;
        let from_bp = self.events.last().map_or(0, |e| e.to_bp);
        self.push(Event {
            kind: step.kind,
            from_bp,
            to_bp: self.share_bp(cfg),
            evidence: format!("{} (decided by another replica)", step.evidence),
            after: now.duration_since(self.started),
        });
        true
    }

    /// What each arm counted here since the last flush, under `b.`/`c.`
    /// names (now flushed; the store's next answer corrects what counts as
    /// flushed: [`State::counted_elsewhere`]).
    pub fn flush(&mut self) -> StepCounts {
        let mut out = StepCounts::new();
        for (arm, stats) in ARM_NAMES.into_iter().zip(&mut self.arms) {
            stats.flush().write(arm, &mut out);
        }
        out
    }

    /// Every replica's counters of the step as the store answered: the
    /// arms' `others` become those of every replica but `replica`, and
    /// what the store holds of `replica` is what counts as flushed (a
    /// store that lost it, e.g. a Redis restarted empty, is sent it again
    /// with the next flush).
    pub fn counted_elsewhere(&mut self, replica: u64, all: &HashMap<u64, StepCounts>) {
        for (arm, stats) in ARM_NAMES.into_iter().zip(&mut self.arms) {
            let mut others = Counts::default();
            let mut kept = Counts::default();
            for (r, c) in all {
                if *r == replica {
                    kept.read(arm, c);
                } else {
                    others.read(arm, c);
                }
            }
            stats.others = others;
            stats.flushed = kept;
        }
    }

    /// Withdraws the step just taken here (another replica stepped first).
    pub fn withdraw(&mut self, phase: Phase) {
        self.phase = phase;
        self.events.pop();
    }

    fn push(&mut self, event: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.remove(1);
        }
        self.events.push(event);
    }
}

/// A p95 difference below this is noise, whatever the ratio (1 ms against
/// 6 ms is six times slower and means nothing).
const LATENCY_SLACK_MS: f64 = 50.0;

/// The first threshold the canary arm breaks against the baseline arm, in
/// words with both values. A baseline with nothing to compare (no latency,
/// no priced or judged answer) compares latency and cost with nothing and
/// answer validity with 100 %.
fn regression(cfg: &CanaryConfig, base: &ArmStats, can: &ArmStats) -> Option<String> {
    let t = &cfg.rollback;
    let increase = can.error_rate() - base.error_rate();
    if increase > t.error_rate_increase {
        return Some(format!(
            "error rate {:.1}% vs {:.1}% (more than +{:.1} points)",
            can.error_rate() * 100.0,
            base.error_rate() * 100.0,
            t.error_rate_increase * 100.0
        ));
    }
    if let (Some(c), Some(b)) = (can.p95_ms(), base.p95_ms())
        && b > 0.0
        && c / b > t.p95_latency_ratio
        && c - b > LATENCY_SLACK_MS
    {
        return Some(format!(
            "p95 latency {c:.0}ms vs {b:.0}ms (more than {}x)",
            t.p95_latency_ratio
        ));
    }
    if let (Some(c), Some(b)) = (can.cost_per_request(), base.cost_per_request())
        && b > 0.0
        && c / b > t.cost_ratio
    {
        return Some(format!(
            "cost per request ${c:.6} vs ${b:.6} (more than {}x)",
            t.cost_ratio
        ));
    }
    if let Some(c) = can.pass_rate() {
        let b = base.pass_rate().unwrap_or(1.0);
        // "More than" the drop: exactly `score-drop` (0.8 − 0.7 is
        // 0.10000000000000009 in floating point) is within it, as for a
        // prompt canary's eval scores (`evals.rs`).
        if b - c > t.score_drop + super::RATE_TOLERANCE {
            return Some(format!(
                "valid answers {:.0}% vs {:.0}% (a drop of more than {:.0} points)",
                c * 100.0,
                b * 100.0,
                t.score_drop * 100.0
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
