//! Owns the at-most-once checks from the mocks' call logs: an irreversible
//! request reaches at most one upstream that may have acted on it (a call
//! refused before acting — a 429, refused credentials, a request refused as
//! invalid or too long (400, 413, 422) — is no execution),
//! and the requests sharing an `Idempotency-Key` execute upstream (a whole
//! 200 answer) at most once.

use std::collections::BTreeMap;

use signalbox_mock::CallOutcome;

use super::Tally;
use crate::facts::{Facts, UpstreamCall};

fn calls_of<'a>(facts: &'a Facts, id: &'a str) -> impl Iterator<Item = &'a UpstreamCall> {
    facts
        .calls
        .iter()
        .filter(move |c| c.request_id.as_deref() == Some(id))
}

/// Whether the mock refused the call before doing anything with it.
fn refused_before_acting(outcome: &CallOutcome) -> bool {
    matches!(
        outcome,
        CallOutcome::RateLimited { .. }
            | CallOutcome::RateLimitedUntilReset { .. }
            | CallOutcome::Error {
                status: 400 | 401 | 403 | 413 | 422 | 429
            }
    )
}

pub(super) fn no_duplicates(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    for r in facts.requests.iter().filter(|r| r.irreversible) {
        t.look();
        let reached: Vec<&str> = calls_of(facts, &r.id)
            .filter(|c| !refused_before_acting(&c.outcome))
            .map(|c| c.upstream.as_str())
            .collect();
        if reached.len() > 1 {
            let why = format!(
                "irreversible request reached upstreams {} times ({})",
                reached.len(),
                reached.join(", ")
            );
            t.broke(Some(&r.id), why);
        }
    }
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &facts.requests {
        if let Some(key) = &r.idempotency_key {
            by_key.entry(key).or_default().push(&r.id);
        }
    }
    for (key, ids) in by_key {
        t.look();
        let executed: Vec<&str> = ids
            .iter()
            .flat_map(|id| {
                calls_of(facts, id)
                    .filter(|c| c.outcome.executed())
                    .map(move |_| *id)
            })
            .collect();
        if executed.len() > 1 {
            let why = format!(
                "Idempotency-Key {key} executed upstream {} times (by {})",
                executed.len(),
                executed.join(", ")
            );
            t.broke(executed.get(1).copied(), why);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::testkit::{call, ok};

    #[test]
    fn an_irreversible_request_sent_twice_breaks_it() {
        let mut once = ok("once", "a");
        once.irreversible = true;
        let mut twice = ok("twice", "b");
        twice.irreversible = true;
        let f = Facts {
            requests: vec![once, twice],
            calls: vec![
                call("a", 1, "once", CallOutcome::Json),
                call("a", 2, "twice", CallOutcome::Hung),
                call("b", 3, "twice", CallOutcome::Json),
            ],
            ..Facts::default()
        };
        let t = no_duplicates(&f);
        assert_eq!((t.checked, t.violations), (2, 1));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("twice"));
    }

    #[test]
    fn one_key_executed_twice_breaks_it_but_a_failed_try_does_not() {
        let keyed = |id: &str, key: &str| {
            let mut r = ok(id, "a");
            r.idempotency_key = Some(key.to_owned());
            r
        };
        let f = Facts {
            requests: vec![
                keyed("k1-a", "k1"),
                keyed("k1-b", "k1"),
                keyed("k2-a", "k2"),
                keyed("k2-b", "k2"),
            ],
            calls: vec![
                call("a", 1, "k1-a", CallOutcome::Error { status: 503 }),
                call("a", 2, "k1-b", CallOutcome::Json),
                call("a", 3, "k2-a", CallOutcome::Json),
                call("a", 4, "k2-b", CallOutcome::Json),
            ],
            ..Facts::default()
        };
        let t = no_duplicates(&f);
        assert_eq!((t.checked, t.violations), (2, 1));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("k2-b"));
    }

    #[test]
    fn a_call_refused_before_acting_is_no_execution() {
        let mut r = ok("r", "b");
        r.irreversible = true;
        let f = Facts {
            requests: vec![r],
            calls: vec![
                call(
                    "a",
                    1,
                    "r",
                    CallOutcome::RateLimited {
                        retry_after_secs: 1,
                    },
                ),
                call("b", 2, "r", CallOutcome::Json),
            ],
            ..Facts::default()
        };
        let t = no_duplicates(&f);
        assert_eq!((t.checked, t.violations), (1, 0));
    }
}
