//! Owns judging a run: one checker per invariant, each a pure function of
//! the [`Facts`] that reports whether it held, how many facts it looked at,
//! how many broke it and the first offending request id with the reason.
//! Every checker has a test feeding it a violating fact set.

mod answers;
mod attempts;
mod breaker;
mod degraded;
mod execution;
mod placement;
mod rejections;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::facts::Facts;
use crate::scenario::Invariant;

/// The verdict on one invariant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The invariant's name.
    pub invariant: &'static str,
    /// Whether it held.
    pub held: bool,
    /// Facts it judged (requests, calls, keys …).
    pub checked: usize,
    /// Facts that broke it.
    pub violations: usize,
    /// The first offending request id, when one is to blame.
    pub first_offender: Option<String>,
    /// Why the first offender broke it (empty when it held).
    pub detail: String,
}

/// Checks one invariant against a run's facts.
pub fn check(invariant: &Invariant, facts: &Facts) -> Verdict {
    let tally = match invariant {
        Invariant::DefiniteAnswer { within } => answers::definite(facts, *within),
        Invariant::NoTruncatedSuccess => answers::no_truncated_success(facts),
        Invariant::SuccessRate {
            min,
            tenants,
            after,
            skip_keyed,
        } => answers::success_rate(facts, *min, tenants, (*after, *skip_keyed)),
        Invariant::NoDuplicateExecution => execution::no_duplicates(facts),
        Invariant::Residency => placement::residency(facts),
        Invariant::DegradationMarked => degraded::marked(facts),
        Invariant::BoundedAttempts {
            max,
            max_amplification,
            cooldown_grace,
        } => attempts::bounded(facts, *max, *max_amplification, *cooldown_grace),
        Invariant::Breaker {
            route,
            opens_within,
            closes_after_recovery,
        } => breaker::opens_and_closes(facts, route, *opens_within, *closes_after_recovery),
        Invariant::HealthyAfter { .. } => healthy_after(facts),
        Invariant::RejectionsPropagated => rejections::propagated(facts),
    };
    tally.verdict(invariant.name())
}

/// The verdict on the timeline's reloads and Redis steps: each must have
/// been applied (a refused or unchanged reload tests nothing).
pub fn timeline_applied(facts: &Facts) -> Verdict {
    let mut t = Tally::default();
    for a in &facts.actions {
        t.look();
        let at = a.at.as_millis();
        match &a.result {
            Ok(outcome) if a.action == "reload" && !outcome.starts_with("reloaded") => {
                t.broke(None, format!("reload at {at} ms: {outcome}"));
            }
            Ok(_) => {}
            Err(e) => t.broke(None, format!("{} at {at} ms failed: {e}", a.action)),
        }
    }
    t.verdict("timeline-applied")
}

fn healthy_after(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    t.look();
    match &facts.healthy_after {
        Some(h) if h.ok => {}
        Some(h) => t.broke(
            None,
            format!("no fresh request succeeded after the run: {}", h.detail),
        ),
        None => t.broke(
            None,
            "the fresh request after the run was not sent".to_owned(),
        ),
    }
    t
}

/// Counts facts and keeps the first violation.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    checked: usize,
    violations: usize,
    first: Option<(Option<String>, String)>,
}

impl Tally {
    /// One more fact judged.
    pub(crate) fn look(&mut self) {
        self.checked += 1;
    }

    /// A violation by `id` (a request id), for `why`.
    pub(crate) fn broke(&mut self, id: Option<&str>, why: String) {
        self.violations += 1;
        if self.first.is_none() {
            self.first = Some((id.map(str::to_owned), why));
        }
    }

    fn verdict(self, invariant: &'static str) -> Verdict {
        let (first_offender, detail) = self.first.unwrap_or_default();
        Verdict {
            invariant,
            held: self.violations == 0,
            checked: self.checked,
            violations: self.violations,
            first_offender,
            detail,
        }
    }
}
