//! Owns the breaker check for one route: once its upstream starts failing,
//! the circuit opens (a request's record skips the route as open) before
//! more than `opens-within` failures, plus the requests already in flight
//! when the last of them came back; and, when asked, after the fault is
//! cleared, the route serves answers again (probe, half-open, close).

use std::time::Duration;

use signalbox_core::SkipKind;
use signalbox_mock::{CallOutcome, Faults, StreamEnd};

use super::Tally;
use crate::facts::{Facts, UpstreamCall};

pub(super) fn opens_and_closes(
    facts: &Facts,
    route: &str,
    opens_within: u32,
    closes: bool,
) -> Tally {
    let mut t = Tally::default();
    t.look();
    let Some(upstream) = facts.route(route).and_then(|r| r.upstream.as_deref()) else {
        t.broke(
            None,
            format!("route {route} is not behind a mock of the scenario"),
        );
        return t;
    };
    let healthy = Faults::default();
    let steps = facts.steps.iter().filter(|s| s.upstream == upstream);
    let Some(start) = steps.clone().find(|s| s.faults != healthy).map(|s| s.at) else {
        t.broke(None, format!("the timeline never faults {upstream}"));
        return t;
    };
    let cleared = steps
        .clone()
        .find(|s| s.at > start && s.faults == healthy)
        .map(|s| s.at);
    let opened = facts
        .requests
        .iter()
        .filter(|r| r.sent_at >= start)
        .find(|r| facts.record(r).is_some_and(|rec| skipped_open(rec, route)));
    let failures = |until: Duration| -> Vec<&UpstreamCall> {
        facts
            .calls
            .iter()
            .filter(|c| {
                c.upstream == upstream && c.at >= start && c.at < until && failed(c.outcome)
            })
            .collect()
    };
    let allowed = opens_within as usize + facts.concurrency.saturating_sub(1);
    match opened {
        None => {
            let seen = failures(Duration::MAX);
            let why = format!(
                "the circuit never opened ({} failures on {upstream})",
                seen.len()
            );
            t.broke(seen.last().and_then(|c| c.request_id.as_deref()), why);
        }
        Some(first) => {
            let before = failures(first.sent_at);
            if before.len() > allowed {
                let why = format!(
                    "{} failures on {upstream} before the circuit opened (allowed {opens_within} + {} in flight)",
                    before.len(),
                    allowed - opens_within as usize
                );
                t.broke(
                    before.get(allowed).and_then(|c| c.request_id.as_deref()),
                    why,
                );
            }
        }
    }
    if closes {
        traffic_returns(facts, route, upstream, cleared, &mut t);
    }
    t
}

/// After the faults were cleared, some request is served by the route again.
fn traffic_returns(
    facts: &Facts,
    route: &str,
    upstream: &str,
    cleared: Option<Duration>,
    t: &mut Tally,
) {
    t.look();
    let returned = cleared.is_some_and(|at| {
        facts
            .requests
            .iter()
            .any(|r| r.sent_at > at && r.succeeded() && r.answer.route.as_deref() == Some(route))
    });
    if !returned {
        let why = match cleared {
            Some(at) => format!(
                "no answer from {route} after its faults were cleared at {} ms",
                at.as_millis()
            ),
            None => format!("the timeline never clears {upstream}'s faults"),
        };
        t.broke(None, why);
    }
}

fn skipped_open(rec: &signalbox_core::DecisionRecord, route: &str) -> bool {
    rec.skipped.iter().any(|s| {
        s.route == route
            && matches!(
                s.kind,
                SkipKind::CircuitOpen | SkipKind::OpenElsewhere | SkipKind::HalfOpenFull
            )
    })
}

/// Whether a call counts as a failure for a breaker (a 429 does not).
fn failed(outcome: CallOutcome) -> bool {
    match outcome {
        CallOutcome::Hung | CallOutcome::Reset => true,
        CallOutcome::Error { status } => status >= 500,
        CallOutcome::Stream(end) => matches!(
            end,
            StreamEnd::Cut | StreamEnd::EndedShort | StreamEnd::Stalled
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use signalbox_core::{DecisionRecord, SkipRecord};

    use super::*;
    use crate::facts::AppliedStep;
    use crate::invariants::testkit::{call, ok, route};

    fn down_then_up() -> Facts {
        let step = |ms, faults| AppliedStep {
            at: Duration::from_millis(ms),
            upstream: "a".to_owned(),
            faults,
        };
        let down = Faults {
            error_rate: 1.0,
            ..Faults::default()
        };
        Facts {
            routes: vec![route("a", "eu")],
            steps: vec![step(100, down), step(5_000, Faults::default())],
            concurrency: 1,
            ..Facts::default()
        }
    }

    fn sent(id: &str, ms: u64, route: &str) -> crate::facts::RequestFact {
        let mut r = ok(id, route);
        r.sent_at = Duration::from_millis(ms);
        r
    }

    fn skipping(facts: &mut Facts, id: &str) {
        let rec = DecisionRecord {
            skipped: vec![SkipRecord::new("a", SkipKind::CircuitOpen, "open")],
            ..DecisionRecord::default()
        };
        facts.records.insert(id.to_owned(), rec);
    }

    #[test]
    fn too_many_failures_before_opening_break_it() {
        let mut f = down_then_up();
        let e = CallOutcome::Error { status: 503 };
        f.calls = (0..4)
            .map(|i| call("a", 200 + i * 10, &format!("f{i}"), e))
            .collect();
        f.requests = vec![sent("open", 1_000, "b"), sent("back", 6_000, "a")];
        skipping(&mut f, "open");
        let t = opens_and_closes(&f, "a", 3, true);
        assert_eq!(t.violations, 1);
        assert_eq!(t.first.unwrap().0.as_deref(), Some("f3"));
        assert_eq!(opens_and_closes(&f, "a", 4, true).violations, 0);
    }

    #[test]
    fn a_circuit_that_never_opens_or_never_serves_again_breaks_it() {
        let mut f = down_then_up();
        f.calls = vec![call("a", 200, "f0", CallOutcome::Hung)];
        f.requests = vec![sent("late", 6_000, "b")];
        let t = opens_and_closes(&f, "a", 3, true);
        assert_eq!(t.violations, 2);
        assert!(t.first.unwrap().1.starts_with("the circuit never opened"));
    }
}
