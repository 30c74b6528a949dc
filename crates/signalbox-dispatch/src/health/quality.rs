//! Owns a route's quality gate: whether its answers to the quality suites
//! keep it serving. A run of the suites reports pass or fail; the gate
//! closes after `trip_after` failing runs in a row and opens again after
//! `recover_after` passing runs in a row (hysteresis, so one noisy run
//! moves nothing). A closed gate skips the route for every request, with
//! the failing run's summary as the reason. A run that passes the floors
//! but misses a scorer's warn bar marks the route warned: it is ranked
//! after the routes whose answers pass (as a slow route is), and the mark
//! clears with the next run that meets every bar. The request path reads
//! atomics only.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

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
#[derive(Debug, Default)]
pub struct QualityGate {
    closed: AtomicBool,
    warned: AtomicBool,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    fails_in_row: u32,
    passes_in_row: u32,
    /// Why the gate is closed.
    reason: String,
    /// Which warn bars the last run missed.
    warning: String,
}

impl QualityGate {
    /// Why the route may not serve, when its gate is closed.
    pub fn closed(&self) -> Option<String> {
        if !self.closed.load(Ordering::Relaxed) {
            return None;
        }
        Some(self.state.lock().reason.clone())
    }

    /// Whether the last run missed a warn bar (the route is ranked lower).
    pub fn warned(&self) -> bool {
        self.warned.load(Ordering::Relaxed)
    }

    /// Which warn bars the last run missed, while it did.
    pub fn warning(&self) -> Option<String> {
        self.warned().then(|| self.state.lock().warning.clone())
    }

    /// Records which warn bars a run missed (`None`: it met them all).
    pub fn record_warning(&self, missed: Option<&str>) {
        let mut s = self.state.lock();
        s.warning = missed
            .map(|m| format!("quality warning: {m}"))
            .unwrap_or_default();
        self.warned.store(missed.is_some(), Ordering::Relaxed);
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
        let closed = self.closed.load(Ordering::Relaxed);
        if passed {
            s.fails_in_row = 0;
            s.passes_in_row = s.passes_in_row.saturating_add(1);
            if closed && s.passes_in_row >= recover_after.max(1) {
                s.reason.clear();
                self.closed.store(false, Ordering::Relaxed);
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
            self.closed.store(true, Ordering::Relaxed);
            return Some(QualityTransition::Disabled {
                summary: summary.to_owned(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_closes_after_failing_runs_and_opens_after_passing_ones() {
        let gate = QualityGate::default();
        assert_eq!(gate.record(false, "tool-call 0.40 < 0.90", 2, 2), None);
        assert!(gate.closed().is_none(), "one failing run moves nothing");
        let t = gate.record(false, "tool-call 0.40 < 0.90", 2, 2);
        assert!(matches!(t, Some(QualityTransition::Disabled { .. })));
        assert!(gate.closed().unwrap_or_default().contains("tool-call 0.40"));
        assert_eq!(gate.record(true, "", 2, 2), None);
        // A failing run in between starts the recovery count again.
        assert_eq!(gate.record(false, "tool-call 0.50 < 0.90", 2, 2), None);
        assert_eq!(gate.record(true, "", 2, 2), None);
        assert_eq!(
            gate.record(true, "", 2, 2),
            Some(QualityTransition::Restored)
        );
        assert!(gate.closed().is_none());
    }

    #[test]
    fn a_missed_warn_bar_marks_the_route_until_a_run_meets_it() {
        let gate = QualityGate::default();
        assert!(!gate.warned() && gate.warning().is_none());
        gate.record_warning(Some("tool-call 0.85 < 0.95"));
        assert!(gate.warned());
        assert!(
            gate.warning()
                .unwrap_or_default()
                .contains("tool-call 0.85")
        );
        assert!(gate.closed().is_none(), "a warning never skips the route");
        gate.record_warning(None);
        assert!(!gate.warned());
    }
}
