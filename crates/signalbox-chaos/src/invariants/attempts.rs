//! Owns "bounded attempts": no request makes more attempts than its budget,
//! the upstream load stays within an amplification of the request rate, and
//! an upstream that answered 429 is left alone for the cooldown it asked
//! for (`retry-after`, 1 s without one), calls already under way forgiven
//! for a short grace.

use std::time::Duration;

use signalbox_mock::CallOutcome;

use super::Tally;
use crate::facts::Facts;

/// The cooldown a 429 without `retry-after` earns (docs/resilience.md).
const COOLDOWN_WITHOUT_HINT: Duration = Duration::from_secs(1);
/// The most a `retry-after` is honoured for (docs/resilience.md).
const COOLDOWN_CAP: Duration = Duration::from_secs(600);

pub(super) fn bounded(
    facts: &Facts,
    max: Option<u32>,
    max_amplification: Option<f64>,
    grace: Duration,
) -> Tally {
    let mut t = Tally::default();
    let budget = max.unwrap_or(facts.attempt_budget);
    for r in &facts.requests {
        t.look();
        let made = facts
            .record(r)
            .map(|rec| u32::try_from(rec.attempts.len()).unwrap_or(u32::MAX))
            .or(r.answer.attempts)
            .unwrap_or(0);
        if made > budget {
            t.broke(
                Some(&r.id),
                format!("{made} attempts, over the budget of {budget}"),
            );
        }
    }
    if let Some(limit) = max_amplification {
        let requests = facts.requests.len().max(1) as f64;
        let ratio = facts.calls.len() as f64 / requests;
        if ratio > limit {
            let why = format!(
                "{} upstream calls for {} requests ({ratio:.2} per request, over {limit})",
                facts.calls.len(),
                facts.requests.len()
            );
            t.broke(None, why);
        }
    }
    hammering(facts, grace, &mut t);
    t
}

/// Calls to an upstream inside a cooldown it asked for with a 429.
fn hammering(facts: &Facts, grace: Duration, t: &mut Tally) {
    for limited in &facts.calls {
        let wait = match limited.outcome {
            CallOutcome::RateLimited {
                retry_after_secs: secs,
            }
            | CallOutcome::RateLimitedUntilReset { reset_secs: secs } => {
                Duration::from_secs(secs).min(COOLDOWN_CAP)
            }
            CallOutcome::Error { status: 429 } => COOLDOWN_WITHOUT_HINT,
            _ => continue,
        };
        // A cooldown is per route: only an upstream behind exactly one route is judged.
        let routes = facts
            .routes
            .iter()
            .filter(|r| r.upstream.as_deref() == Some(limited.upstream.as_str()))
            .count();
        if routes != 1 {
            continue;
        }
        let (from, to) = (limited.at + grace, limited.at + wait);
        let inside = facts
            .calls
            .iter()
            .find(|c| c.upstream == limited.upstream && c.at > from && c.at < to);
        if let Some(c) = inside {
            let why = format!(
                "{} was called {} ms after its 429 asked for {} s of quiet",
                c.upstream,
                (c.at - limited.at).as_millis(),
                wait.as_secs_f64()
            );
            t.broke(c.request_id.as_deref(), why);
        }
    }
}

#[cfg(test)]
mod tests {
    use signalbox_core::OutcomeClass;

    use super::*;
    use crate::invariants::testkit::{call, ok, record, route};

    #[test]
    fn more_attempts_than_the_budget_break_it() {
        let mut f = Facts {
            requests: vec![ok("two", "b"), ok("three", "c")],
            attempt_budget: 2,
            ..Facts::default()
        };
        let s = OutcomeClass::ServerError;
        f.records.insert(
            "two".to_owned(),
            record("two", &[("a", s), ("b", OutcomeClass::Success)]),
        );
        f.records.insert(
            "three".to_owned(),
            record("three", &[("a", s), ("b", s), ("c", OutcomeClass::Success)]),
        );
        let t = bounded(&f, None, None, Duration::ZERO);
        assert_eq!((t.checked, t.violations), (2, 1));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("three"));
        // An explicit bound overrides the policy's.
        assert_eq!(bounded(&f, Some(3), None, Duration::ZERO).violations, 0);
    }

    #[test]
    fn too_many_upstream_calls_per_request_break_it() {
        let f = Facts {
            requests: vec![ok("r", "a")],
            calls: vec![
                call("a", 1, "r", CallOutcome::Error { status: 503 }),
                call("b", 2, "r", CallOutcome::Json),
            ],
            attempt_budget: 5,
            ..Facts::default()
        };
        assert_eq!(bounded(&f, None, Some(1.5), Duration::ZERO).violations, 1);
        assert_eq!(bounded(&f, None, Some(2.0), Duration::ZERO).violations, 0);
    }

    #[test]
    fn calling_a_rate_limited_upstream_during_its_cooldown_breaks_it() {
        let limited = CallOutcome::RateLimited {
            retry_after_secs: 2,
        };
        let f = Facts {
            routes: vec![route("a", "eu")],
            calls: vec![
                call("a", 1_000, "first", limited),
                // Under way when the 429 came: forgiven.
                call("a", 1_050, "inflight", CallOutcome::Json),
                call("a", 1_500, "hammer", CallOutcome::Json),
                // After the cooldown: fine.
                call("a", 3_100, "later", CallOutcome::Json),
                // Without a hint, one second of quiet.
                call("a", 5_000, "bare", CallOutcome::Error { status: 429 }),
                call("a", 5_500, "hammer-2", CallOutcome::Json),
                // A reset header is a hint too.
                call(
                    "a",
                    8_000,
                    "reset",
                    CallOutcome::RateLimitedUntilReset { reset_secs: 3 },
                ),
                call("a", 10_000, "hammer-3", CallOutcome::Json),
            ],
            attempt_budget: 1,
            ..Facts::default()
        };
        let t = bounded(&f, None, None, Duration::from_millis(100));
        assert_eq!(t.violations, 3);
        assert_eq!(t.first.unwrap().0.as_deref(), Some("hammer"));
    }
}
