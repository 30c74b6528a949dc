//! Owns the breaker transitions' way into the audit trail: route health
//! (dispatch) hands each transition to a bounded channel; one background
//! task here counts it (`signalbox_breaker_transitions_total`) and keeps it
//! as a system event (`record::system_event`, who `signalbox-breaker`,
//! path `/breaker/{route}`), where `GET /admin/audit` and `what-changed`
//! find it. A flapping breaker must not flood the log: each route keeps at
//! most [`KEEP_PER_WINDOW`] events a minute; the rest are counted
//! (`signalbox_breaker_events_suppressed_total`) and summarised in one
//! event when the minute ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use signalbox_core::metric_names as m;
use signalbox_dispatch::{BreakerEvent, BreakerEvents, BreakerState};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::AppState;

/// Transitions of one route kept per window; past it they are only counted.
pub(crate) const KEEP_PER_WINDOW: u32 = 6;
/// The coalescing window.
const WINDOW_MS: u64 = 60_000;
/// Transitions waiting for the task at most (a full channel drops, counted).
pub(crate) const CHANNEL: usize = 256;
/// Who the events are recorded as.
const WHO: &str = "signalbox-breaker";

/// The sink route health reports to, and its receiver until the task takes it.
pub(crate) fn channel() -> (BreakerEvents, mpsc::Receiver<BreakerEvent>) {
    BreakerEvents::channel(CHANNEL)
}

/// What to write for one transition offered to the [`Coalescer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub route: Arc<str>,
    /// Transitions not kept in the window that ended.
    pub suppressed: u32,
    /// The state the last of them entered.
    pub last: BreakerState,
}

#[derive(Debug)]
struct RouteWindow {
    start_ms: u64,
    kept: u32,
    suppressed: u32,
    last: BreakerState,
}

/// Per-route budget of kept events: [`KEEP_PER_WINDOW`] per window; the
/// rest counted and summarised once the window is over. Pure (time is
/// passed in), so the flood rules are tested without a clock.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    routes: HashMap<Arc<str>, RouteWindow>,
}

impl Coalescer {
    /// Offers `event`: the summary of the route's previous window, if it
    /// ended with events suppressed, and whether to keep this one.
    pub fn offer(&mut self, event: &BreakerEvent) -> (Option<Summary>, bool) {
        let w = self
            .routes
            .entry(Arc::clone(&event.route))
            .or_insert(RouteWindow {
                start_ms: event.at_ms,
                kept: 0,
                suppressed: 0,
                last: event.to,
            });
        let mut summary = None;
        if event.at_ms.saturating_sub(w.start_ms) >= WINDOW_MS {
            summary = summary_of(&event.route, w);
            *w = RouteWindow {
                start_ms: event.at_ms,
                kept: 0,
                suppressed: 0,
                last: event.to,
            };
        }
        w.last = event.to;
        let keep = w.kept < KEEP_PER_WINDOW;
        if keep {
            w.kept += 1;
        } else {
            w.suppressed += 1;
        }
        (summary, keep)
    }

    /// The summaries of windows over by `now_ms` that suppressed events
    /// (each once); routes quiet for a whole window are forgotten.
    pub fn flush(&mut self, now_ms: u64) -> Vec<Summary> {
        let mut out = Vec::new();
        self.routes.retain(|route, w| {
            if now_ms.saturating_sub(w.start_ms) < WINDOW_MS {
                return true;
            }
            out.extend(summary_of(route, w));
            false
        });
        out
    }
}

fn summary_of(route: &Arc<str>, w: &RouteWindow) -> Option<Summary> {
    (w.suppressed > 0).then(|| Summary {
        route: Arc::clone(route),
        suppressed: w.suppressed,
        last: w.last,
    })
}

/// Starts the task that keeps the transitions (once: a second call finds
/// the receiver taken and does nothing).
pub(crate) fn spawn(state: &Arc<AppState>) -> JoinHandle<()> {
    let rx = state.breaker_events.lock().take();
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let Some(mut rx) = rx else { return };
        let mut coalescer = Coalescer::default();
        let mut tick = tokio::time::interval(Duration::from_millis(WINDOW_MS));
        loop {
            tokio::select! {
                event = rx.recv() => {
                    let Some(event) = event else { break };
                    take(&state, &mut coalescer, &event);
                }
                _ = tick.tick() => {
                    for s in coalescer.flush(signalbox_core::clock::unix_ms()) {
                        write_summary(&state, &s);
                    }
                }
            }
        }
    })
}

/// Counts one transition and keeps it, or its window's summary, as events.
fn take(state: &AppState, coalescer: &mut Coalescer, e: &BreakerEvent) {
    let route = &*e.route;
    state.telemetry.count(
        m::BREAKER_TRANSITIONS_TOTAL,
        &[("route", route), ("to", e.to.as_str())],
    );
    let (summary, keep) = coalescer.offer(e);
    if let Some(s) = summary {
        write_summary(state, &s);
    }
    if keep {
        tracing::info!(%route, from = e.from.as_str(), to = e.to.as_str(), reason = %e.reason, "Breaker transition kept as an event.");
        let detail = format!(
            "route {route} breaker {} → {}: {}",
            e.from.as_str(),
            e.to.as_str(),
            e.reason
        );
        crate::record::system_event(state, WHO, path(route), e.to.as_str(), detail);
    } else {
        state
            .telemetry
            .count(m::BREAKER_EVENTS_SUPPRESSED_TOTAL, &[("route", route)]);
    }
}

fn write_summary(state: &AppState, s: &Summary) {
    let detail = format!(
        "route {} breaker flapping: {} more transitions in a minute not kept one by one (last: {})",
        s.route,
        s.suppressed,
        s.last.as_str()
    );
    tracing::warn!(route = %s.route, suppressed = s.suppressed, "Breaker flapping: transitions summarised.");
    crate::record::system_event(state, WHO, path(&s.route), "flapping", detail);
}

/// An operator forcing a breaker (or ending it) is a breaker transition
/// too, kept beside the circuit's own.
pub(crate) fn operator_forced(
    state: &AppState,
    action: &signalbox_core::operator::OperatorAction,
    moment: crate::admin::Moment,
) {
    use signalbox_core::operator::Action;
    let (route, forced) = match &action.action {
        Action::ForceOpen { route } => (route, "forced open"),
        Action::ForceClose { route } => (route, "forced closed"),
        _ => return,
    };
    let (reason, detail) = match moment {
        crate::admin::Moment::Created => (
            forced,
            format!(
                "route {route} breaker {forced} by {} ({}): {}",
                action.who.name, action.id, action.reason
            ),
        ),
        crate::admin::Moment::Reverted => (
            "released",
            format!(
                "route {route} breaker no longer {forced} ({} reverted): its own state applies",
                action.id
            ),
        ),
    };
    crate::record::system_event(state, WHO, path(route.as_str()), reason, detail);
}

fn path(route: &str) -> String {
    format!("/breaker/{route}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_ms: u64, to: BreakerState) -> BreakerEvent {
        BreakerEvent {
            route: "us-large".into(),
            from: BreakerState::Closed,
            to,
            reason: "r".into(),
            at_ms,
        }
    }

    #[test]
    fn a_flapping_breaker_keeps_a_few_events_a_minute_and_summarises_the_rest() {
        let mut c = Coalescer::default();
        let kept: Vec<bool> = (0..20)
            .map(|i| {
                let (summary, keep) = c.offer(&event(1_000 + i * 100, BreakerState::Open));
                assert_eq!(summary, None, "the window is not over");
                keep
            })
            .collect();
        assert_eq!(
            kept.iter().filter(|k| **k).count(),
            KEEP_PER_WINDOW as usize
        );
        assert!(
            kept[..KEEP_PER_WINDOW as usize].iter().all(|k| *k),
            "the first are kept"
        );
        assert!(
            c.flush(30_000).is_empty(),
            "a window still running is not summarised"
        );
        let (summary, keep) = c.offer(&event(61_000, BreakerState::HalfOpen));
        assert!(keep, "a new window keeps again");
        let summary = summary.unwrap();
        assert_eq!((summary.suppressed, summary.last), (14, BreakerState::Open));
        assert!(c.flush(200_000).is_empty(), "nothing suppressed since");
        assert!(c.routes.is_empty(), "a quiet route is forgotten");
    }

    #[test]
    fn a_window_that_ends_quietly_is_summarised_by_the_tick() {
        let mut c = Coalescer::default();
        for i in 0..(KEEP_PER_WINDOW as u64 + 3) {
            c.offer(&event(i, BreakerState::Open));
        }
        let got = c.flush(WINDOW_MS + 1);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].suppressed, 3);
        assert!(c.flush(WINDOW_MS * 3).is_empty(), "summarised once");
    }
}
