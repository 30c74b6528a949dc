//! Owns a route's quality gate: whether its answers to the quality suites
//! keep it serving. A run of the suites reports pass or fail; the gate
//! closes after `trip_after` failing runs in a row and opens again after
//! `recover_after` passing runs in a row (hysteresis, so one noisy run
//! moves nothing). A closed gate skips the route for every request, with
//! the failing run's summary as the reason. A run that passes the floors
//! but misses a scorer's warn bar marks the route warned: it keeps a
//! reduced share of its traffic ([`QualityGate::share`], the declared
//! `warn-weight`), and the mark clears with the next run that meets every
//! bar.
//!
//! With a shared store ([`QualityGate::share_through`]) every run publishes
//! this replica's verdict as a mark, and the gate also answers for the
//! other replicas' marks: a route one replica disabled or warned is skipped
//! or demoted on all of them, and its recovery there reaches them too. The
//! gates and warnings of intents are shared the same way (one mark per
//! route, replica and intent), so a route closed for an intent on one
//! replica skips that intent's requests on all of them. The request path
//! reads atomics and the store's snapshot (one lock-free load, no lookup
//! while no replica holds a mark).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use signalbox_state::{QualityMark, QualityMarks, QualityStore, unix_ms};

/// The share of its traffic a warned route keeps unless configured.
pub const DEFAULT_WARN_WEIGHT: f64 = 0.25;

/// A change of the gate, for events and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QualityTransition {
    /// The route stopped serving: its runs failed.
    Disabled {
        /// What the last run found.
        summary: String,
    },
    /// The route serves again: its runs passed.
    Restored,
}

/// One route's quality gate.
#[derive(Debug)]
pub struct QualityGate {
    closed: AtomicBool,
    /// Whether any intent's gate is closed (so the request path looks no
    /// further while none is).
    intent_closed: AtomicBool,
    /// Whether any intent is warned, likewise.
    intent_warned: AtomicBool,
    /// Per intent: the gates of suites that judge the route for some
    /// intents only.
    intents: Mutex<std::collections::HashMap<String, IntentGate>>,
    warned: AtomicBool,
    state: Mutex<GateState>,
    link: OnceLock<QualityLink>,
    /// The share a warned route keeps, as `f64` bits.
    warn_weight: AtomicU64,
    /// How long a published mark holds without a new run, ms.
    mark_ttl_ms: AtomicU64,
}

impl Default for QualityGate {
    fn default() -> Self {
        Self {
            closed: AtomicBool::new(false),
            intent_closed: AtomicBool::new(false),
            intent_warned: AtomicBool::new(false),
            intents: Mutex::default(),
            warned: AtomicBool::new(false),
            state: Mutex::default(),
            link: OnceLock::new(),
            warn_weight: AtomicU64::new(DEFAULT_WARN_WEIGHT.to_bits()),
            mark_ttl_ms: AtomicU64::new(30 * 60 * 1000),
        }
    }
}

/// Where this route's marks are shared with other replicas.
#[derive(Debug)]
struct QualityLink {
    route: String,
    replica: u64,
    store: Arc<dyn QualityStore>,
    marks: Arc<QualityMarks>,
}

/// One intent's gate: the same hysteresis as the route's.
#[derive(Debug, Default)]
struct IntentGate {
    state: GateState,
    closed: bool,
    /// Which warn bars the intent's suites missed in their last run.
    warning: Option<String>,
}

#[derive(Debug, Default)]
struct GateState {
    fails_in_row: u32,
    passes_in_row: u32,
    /// Why the gate is closed.
    reason: String,
    /// Which warn bars the last run missed.
    warning: String,
    /// Whether the last mark published said something (a clear mark is
    /// published once, not after every passing run).
    marked: bool,
}

impl QualityGate {
    /// Shares this route's verdicts through `store` as `replica` (once; a
    /// reload keeps the first link, as the store outlives reloads).
    pub fn share_through(&self, route: &str, replica: u64, store: Arc<dyn QualityStore>) {
        let _ = self.link.set(QualityLink {
            route: route.to_owned(),
            replica,
            marks: store.snapshot(),
            store,
        });
    }

    /// Applies the configuration: the share a warned route keeps (0–1) and
    /// how long a published mark holds without a new run.
    pub fn configure(&self, warn_weight: f64, mark_ttl: Duration) {
        let w = if warn_weight > 0.0 && warn_weight <= 1.0 {
            warn_weight
        } else {
            DEFAULT_WARN_WEIGHT
        };
        self.warn_weight.store(w.to_bits(), Ordering::Relaxed);
        let ttl = u64::try_from(mark_ttl.as_millis()).unwrap_or(u64::MAX);
        self.mark_ttl_ms.store(ttl, Ordering::Relaxed);
    }

    /// Why the route may not serve, when its gate is closed here or another
    /// replica's runs disabled it.
    pub fn closed(&self) -> Option<String> {
        if self.closed.load(Ordering::Relaxed) {
            return Some(self.state.lock().reason.clone());
        }
        let link = self.link.get()?;
        let why = link.marks.disabled_elsewhere(&link.route, link.replica)?;
        Some(format!("{why} (found by another replica)"))
    }

    /// Whether this replica's own gate is closed.
    pub fn closed_here(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Whether the last run here missed a warn bar.
    pub fn warned_here(&self) -> bool {
        self.warned.load(Ordering::Relaxed)
    }

    /// Whether the route is warned, here or by another replica.
    pub fn warned(&self) -> bool {
        self.warned_here()
            || self
                .link
                .get()
                .is_some_and(|l| l.marks.warned_elsewhere(&l.route, l.replica).is_some())
    }

    /// The share of its traffic the route keeps: 1, or the declared
    /// `warn-weight` while it is warned.
    pub fn share(&self) -> f64 {
        if self.warned() {
            f64::from_bits(self.warn_weight.load(Ordering::Relaxed))
        } else {
            1.0
        }
    }

    /// Which warn bars the last run missed, while it did (here, or on
    /// another replica).
    pub fn warning(&self) -> Option<String> {
        if self.warned_here() {
            return Some(self.state.lock().warning.clone());
        }
        let link = self.link.get()?;
        let why = link.marks.warned_elsewhere(&link.route, link.replica)?;
        Some(format!("{why} (found by another replica)"))
    }

    /// Records which warn bars a run missed (`None`: it met them all).
    pub fn record_warning(&self, missed: Option<&str>) {
        let mut s = self.state.lock();
        s.warning = missed
            .map(|m| format!("quality warning: {m}"))
            .unwrap_or_default();
        self.warned.store(missed.is_some(), Ordering::Relaxed);
        self.publish(&mut s);
    }

    /// Publishes this replica's verdict, when shared: a mark that holds
    /// until the next run is overdue.
    fn publish(&self, s: &mut GateState) {
        let Some(link) = self.link.get() else {
            return;
        };
        let mark = QualityMark {
            replica: link.replica,
            disabled: self.closed_here().then(|| s.reason.clone()),
            warning: self.warned_here().then(|| s.warning.clone()),
            expires_ms: unix_ms().saturating_add(self.mark_ttl_ms.load(Ordering::Relaxed)),
            intent: None,
        };
        if mark.is_clear() && !s.marked {
            return;
        }
        s.marked = !mark.is_clear();
        link.store.publish(&link.route, mark);
    }

    /// Publishes this replica's verdict for `intent`, when shared: as the
    /// route's, a mark that holds until the next run is overdue, published
    /// clear once.
    fn publish_intent(&self, intent: &str, g: &mut IntentGate) {
        let Some(link) = self.link.get() else {
            return;
        };
        let mark = QualityMark {
            replica: link.replica,
            disabled: g.closed.then(|| g.state.reason.clone()),
            warning: g.warning.clone(),
            expires_ms: unix_ms().saturating_add(self.mark_ttl_ms.load(Ordering::Relaxed)),
            intent: Some(intent.to_owned()),
        };
        if mark.is_clear() && !g.state.marked {
            return;
        }
        g.state.marked = !mark.is_clear();
        link.store.publish(&link.route, mark);
    }

    /// Why the route may not serve requests of `intent`, when a suite
    /// judging it for that intent closed its gate here or on another
    /// replica (an atomic load and the snapshot's, no lookup, while no
    /// intent's gate is closed and no replica holds a mark).
    pub fn closed_for(&self, intent: &str) -> Option<String> {
        if self.intent_closed.load(Ordering::Relaxed) {
            let gates = self.intents.lock();
            if let Some(g) = gates.get(intent).filter(|g| g.closed) {
                return Some(format!("{} (for intent {intent})", g.state.reason));
            }
        }
        let link = self.link.get()?;
        let why = link
            .marks
            .disabled_elsewhere_for(&link.route, intent, link.replica)?;
        Some(format!(
            "{why} (found by another replica) (for intent {intent})"
        ))
    }

    /// The intents whose gate is closed, here or on another replica, with
    /// why, sorted (an intent closed here says why here).
    pub fn closed_intents(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        if self.intent_closed.load(Ordering::Relaxed) {
            out.extend(
                self.intents
                    .lock()
                    .iter()
                    .filter(|(_, g)| g.closed)
                    .map(|(i, g)| (i.clone(), g.state.reason.clone())),
            );
        }
        let elsewhere = self.link.get().map(|link| {
            link.marks
                .disabled_intents_elsewhere(&link.route, link.replica)
        });
        with_elsewhere(out, elsewhere)
    }

    /// The intents the route is warned for, here or on another replica,
    /// with which warn bars (an intent warned here says so as here), sorted.
    pub fn warned_intents(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        if self.intent_warned.load(Ordering::Relaxed) {
            out.extend(
                self.intents
                    .lock()
                    .iter()
                    .filter_map(|(i, g)| Some((i.clone(), g.warning.clone()?))),
            );
        }
        let elsewhere = self.link.get().map(|link| {
            link.marks
                .warned_intents_elsewhere(&link.route, link.replica)
        });
        with_elsewhere(out, elsewhere)
    }

    /// The share of `intent`'s requests the route keeps: the route's own
    /// ([`Self::share`]), times its `warn-weight` while warned for the
    /// intent.
    pub fn share_for(&self, intent: &str) -> f64 {
        match self.warning_for(intent) {
            Some(_) => self.share() * self.warn_weight(),
            None => self.share(),
        }
    }

    /// Which warn bars the suites judging the route for `intent` missed in
    /// their last run, here or on another replica, while they did (loads
    /// only while no intent is warned and no replica holds a mark).
    pub fn warning_for(&self, intent: &str) -> Option<String> {
        if self.intent_warned.load(Ordering::Relaxed) {
            let gates = self.intents.lock();
            if let Some(w) = gates.get(intent).and_then(|g| g.warning.as_deref()) {
                return Some(format!("quality warning: {w} (for intent {intent})"));
            }
        }
        let link = self.link.get()?;
        let w = link
            .marks
            .warned_elsewhere_for(&link.route, intent, link.replica)?;
        Some(format!(
            "quality warning: {w} (found by another replica) (for intent {intent})"
        ))
    }

    /// The share of an intent's traffic a route warned for it keeps (the
    /// declared `warn-weight`).
    pub fn warn_weight(&self) -> f64 {
        f64::from_bits(self.warn_weight.load(Ordering::Relaxed))
    }

    /// Records which warn bars the suites judging the route for `intent`
    /// missed (`None`: it met them all); whether that changed.
    pub fn record_intent_warning(&self, intent: &str, missed: Option<&str>) -> bool {
        let mut gates = self.intents.lock();
        let g = gates.entry(intent.to_owned()).or_default();
        let changed = g.warning.is_some() != missed.is_some();
        g.warning = missed.map(str::to_owned);
        self.publish_intent(intent, g);
        let any = gates.values().any(|g| g.warning.is_some());
        self.intent_warned.store(any, Ordering::Relaxed);
        changed
    }

    /// Records one run of the suites judging the route for `intent` only;
    /// returns the transition it caused (shared as the intent's mark, when
    /// the gate is linked to a store).
    pub fn record_intent(
        &self,
        intent: &str,
        passed: bool,
        summary: &str,
        trip_after: u32,
        recover_after: u32,
    ) -> Option<QualityTransition> {
        let mut gates = self.intents.lock();
        let g = gates.entry(intent.to_owned()).or_default();
        let t = step(
            &mut g.state,
            g.closed,
            passed,
            summary,
            trip_after,
            recover_after,
        );
        match t {
            Some(QualityTransition::Disabled { .. }) => g.closed = true,
            Some(QualityTransition::Restored) => g.closed = false,
            None => {}
        }
        self.publish_intent(intent, g);
        let any = gates.values().any(|g| g.closed);
        self.intent_closed.store(any, Ordering::Relaxed);
        t
    }

    /// Records one run of the suites; returns the transition it caused.
    pub fn record(
        &self,
        passed: bool,
        summary: &str,
        trip_after: u32,
        recover_after: u32,
    ) -> Option<QualityTransition> {
        let mut s = self.state.lock();
        let t = self.step(&mut s, passed, summary, trip_after, recover_after);
        self.publish(&mut s);
        t
    }

    fn step(
        &self,
        s: &mut GateState,
        passed: bool,
        summary: &str,
        trip_after: u32,
        recover_after: u32,
    ) -> Option<QualityTransition> {
        let closed = self.closed.load(Ordering::Relaxed);
        let t = step(s, closed, passed, summary, trip_after, recover_after);
        match t {
            Some(QualityTransition::Disabled { .. }) => self.closed.store(true, Ordering::Relaxed),
            Some(QualityTransition::Restored) => self.closed.store(false, Ordering::Relaxed),
            None => {}
        }
        t
    }
}

/// The intents found here, `here`, and those only other replicas found,
/// each saying so, sorted.
fn with_elsewhere(
    mut here: Vec<(String, String)>,
    elsewhere: Option<Vec<(String, String)>>,
) -> Vec<(String, String)> {
    for (intent, why) in elsewhere.into_iter().flatten() {
        if !here.iter().any(|(i, _)| *i == intent) {
            here.push((intent, format!("{why} (found by another replica)")));
        }
    }
    here.sort();
    here
}

/// One run's effect on a gate that is `closed` or not: the hysteresis.
fn step(
    s: &mut GateState,
    closed: bool,
    passed: bool,
    summary: &str,
    trip_after: u32,
    recover_after: u32,
) -> Option<QualityTransition> {
    if passed {
        s.fails_in_row = 0;
        s.passes_in_row = s.passes_in_row.saturating_add(1);
        if closed && s.passes_in_row >= recover_after.max(1) {
            s.reason.clear();
            return Some(QualityTransition::Restored);
        }
        return None;
    }
    s.passes_in_row = 0;
    s.fails_in_row = s.fails_in_row.saturating_add(1);
    if closed {
        s.reason = format!("quality regression: {summary}");
        return None;
    }
    if s.fails_in_row >= trip_after.max(1) {
        s.reason = format!("quality regression: {summary}");
        return Some(QualityTransition::Disabled {
            summary: summary.to_owned(),
        });
    }
    None
}

#[cfg(test)]
mod tests;
