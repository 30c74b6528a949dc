//! Owns shadow comparisons as events in the audit trail (what
//! `signalbox what-changed` lists as `event`): a shadow answer that
//! disagrees with the served one (a different refusal decision, a
//! different or invalid tool call, structured output that breaks the
//! schema) is an event naming the route, the request and which scorers
//! differed (never the answers' text),
//! at most one per route per [`DISAGREEMENT_EVERY`] (the next one says how
//! many it stands for; the rest are counted, never written, so a shadow
//! route that disagrees with every request cannot flood the log); and a
//! shadow route whose agreement over its last [`WINDOW`] comparisons falls
//! below its rule's `min-agreement` (once [`MIN_JUDGED`] are in) is an
//! event, and so is its return above it — transitions only, never one per
//! comparison.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use signalbox_core::metric_names as m;
use signalbox_eval::Verdict;
use signalbox_state::RateLimitedWarn;
use tokio::time::Duration;

use crate::AppState;

/// At most one disagreement event per shadow route per this long.
pub(super) const DISAGREEMENT_EVERY: Duration = Duration::from_secs(60);
/// Comparisons the agreement rate is taken over.
pub(super) const WINDOW: usize = 50;
/// Comparisons needed before the rate is judged.
pub(super) const MIN_JUDGED: usize = 20;

/// One shadow route's recent comparisons and event limiter.
#[derive(Debug)]
struct RouteWatch {
    /// Whether each recent comparison agreed on every scorer, oldest first.
    recent: VecDeque<bool>,
    /// Whether the rate is below the bar (an `agreement_low` was told).
    low: bool,
    disagreements: RateLimitedWarn,
}

impl Default for RouteWatch {
    fn default() -> Self {
        Self {
            recent: VecDeque::with_capacity(WINDOW),
            low: false,
            disagreements: RateLimitedWarn::new(DISAGREEMENT_EVERY),
        }
    }
}

/// What is due after one comparison.
#[derive(Debug, Default, PartialEq)]
struct Due {
    /// A disagreement event, with how many disagreements it stands for.
    disagreement: Option<u64>,
    /// The agreement rate crossed the bar: (now low, the rate).
    crossed: Option<(bool, f64)>,
}

/// Every shadow route's watch (kept across reloads, per replica).
#[derive(Debug, Default)]
pub(super) struct Watch(Mutex<HashMap<String, RouteWatch>>);

impl Watch {
    /// Counts one comparison on `route`; what is due.
    fn observe(&self, route: &str, agreed: bool, min_agreement: f64) -> Due {
        let mut all = self.0.lock();
        let w = all.entry(route.to_owned()).or_default();
        if w.recent.len() == WINDOW {
            w.recent.pop_front();
        }
        w.recent.push_back(agreed);
        let mut due = Due {
            disagreement: if agreed { None } else { w.disagreements.due() },
            crossed: None,
        };
        if w.recent.len() >= MIN_JUDGED {
            let rate = w.recent.iter().filter(|a| **a).count() as f64 / w.recent.len() as f64;
            let low = rate < min_agreement;
            if low != w.low {
                w.low = low;
                due.crossed = Some((low, rate));
            }
        }
        due
    }
}

/// Tells of one comparison of `route`'s answer to request `request_id`,
/// as due.
pub(super) fn compared(
    state: &AppState,
    watch: &Watch,
    route: &str,
    request_id: &str,
    verdicts: &[Verdict],
    min_agreement: f64,
) {
    let agreed = verdicts.iter().all(|v| v.passed);
    let due = watch.observe(route, agreed, min_agreement);
    let t = &state.telemetry;
    if !agreed {
        let suppressed = if due.disagreement.is_some() {
            "false"
        } else {
            "true"
        };
        let labels = [
            ("route", route),
            ("kind", "disagreement"),
            ("suppressed", suppressed),
        ];
        t.count(m::SHADOW_EVENTS_TOTAL, &labels);
    }
    if let Some(times) = due.disagreement {
        // What differed, by scorer, never the findings' text: it quotes the
        // answers (a caller's data has no place in the audit trail; the
        // request's own record holds what its privacy settings allow).
        let what: Vec<&str> = verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| v.scorer.label())
            .collect();
        let more = match times {
            0 | 1 => String::new(),
            n => format!(" ({n} disagreements since the last event)"),
        };
        let detail = format!(
            "shadow route {route} disagreed with the served answer to request {request_id} on {}{more}",
            what.join(", ")
        );
        tell(state, route, "disagreement", detail);
    }
    if let Some((low, rate)) = due.crossed {
        let (kind, detail) = if low {
            let d = format!(
                "shadow route {route} agreement {:.0}% of its last comparisons is below {:.0}%",
                rate * 100.0,
                min_agreement * 100.0
            );
            ("agreement_low", d)
        } else {
            let d = format!(
                "shadow route {route} agreement back to {:.0}% (bar {:.0}%)",
                rate * 100.0,
                min_agreement * 100.0
            );
            ("agreement_restored", d)
        };
        let labels = [("route", route), ("kind", kind), ("suppressed", "false")];
        t.count(m::SHADOW_EVENTS_TOTAL, &labels);
        tell(state, route, kind, detail);
    }
}

fn tell(state: &AppState, route: &str, kind: &str, detail: String) {
    tracing::info!(route, kind, "{detail}");
    let path = format!("/shadow/{route}");
    crate::record::system_event(state, "signalbox-shadow", path, kind, detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn disagreements_are_rate_limited_and_count_what_they_stand_for() {
        let w = Watch::default();
        assert_eq!(w.observe("r", false, 0.0).disagreement, Some(1));
        for _ in 0..5 {
            assert_eq!(w.observe("r", false, 0.0).disagreement, None);
        }
        assert_eq!(
            w.observe("r", true, 0.0),
            Due::default(),
            "agreement tells nothing"
        );
        assert_eq!(
            w.observe("other", false, 0.0).disagreement,
            Some(1),
            "per route"
        );
        tokio::time::advance(DISAGREEMENT_EVERY).await;
        assert_eq!(w.observe("r", false, 0.0).disagreement, Some(6));
    }

    #[tokio::test(start_paused = true)]
    async fn the_agreement_rate_tells_when_it_crosses_the_bar_and_back_only() {
        let w = Watch::default();
        for _ in 0..(MIN_JUDGED - 1) {
            assert_eq!(w.observe("r", false, 0.9).crossed, None, "too few yet");
        }
        let crossed = w.observe("r", false, 0.9).crossed;
        assert_eq!(crossed, Some((true, 0.0)));
        assert_eq!(
            w.observe("r", false, 0.9).crossed,
            None,
            "once, not per comparison"
        );
        // Agreeing answers push the old ones out of the window.
        let back = (0..WINDOW)
            .filter_map(|_| w.observe("r", true, 0.9).crossed)
            .collect::<Vec<_>>();
        assert_eq!(back.len(), 1, "{back:?}");
        assert!(!back[0].0 && back[0].1 >= 0.9, "{back:?}");
    }
}
