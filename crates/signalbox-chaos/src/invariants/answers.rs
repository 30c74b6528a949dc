//! Owns the checks on what callers got: a definite answer within budget, no
//! truncated answer presented as a success, and a minimum success rate.

use std::time::Duration;

use signalbox_mock::{CallOutcome, StreamEnd};

use super::Tally;
use crate::facts::{Facts, RequestFact};

/// Every request ends with a success or a well-formed error within `within`.
pub(super) fn definite(facts: &Facts, within: Duration) -> Tally {
    let mut t = Tally::default();
    for r in &facts.requests {
        t.look();
        if let Some(why) = indefinite(r, within) {
            t.broke(Some(&r.id), why);
        }
    }
    t
}

fn indefinite(r: &RequestFact, within: Duration) -> Option<String> {
    let a = &r.answer;
    if let Some(failure) = &a.failure {
        return Some(format!("no definite answer: {failure}"));
    }
    if r.elapsed > within {
        return Some(format!(
            "answered after {} ms, over the {} ms budget",
            r.elapsed.as_millis(),
            within.as_millis()
        ));
    }
    let Some(status) = a.status else {
        return Some("no response head".to_owned());
    };
    if r.succeeded() {
        return None;
    }
    match &a.body.stream {
        Some(s) if (200..300).contains(&status) => (!s.error_event || s.broke)
            .then(|| "a stream ended without its end marker or an error event".to_owned()),
        _ if status >= 400 && a.body.error_shape => None,
        _ if status >= 400 => Some(format!(
            "status {status} without an OpenAI-shaped error body"
        )),
        _ => Some(format!("status {status} without a chat completion")),
    }
}

/// No stream that broke upstream (cut, ended short, stalled) or on the
/// client reaches the caller as a complete answer.
pub(super) fn no_truncated_success(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    for r in facts.requests.iter().filter(|r| r.stream) {
        t.look();
        let ok = r.answer.status.is_some_and(|s| (200..300).contains(&s));
        let Some(s) = r.answer.body.stream.as_ref().filter(|_| ok) else {
            continue;
        };
        if !s.done && !s.error_event {
            t.broke(
                Some(&r.id),
                "a 200 stream ended without its end marker and without an error event".to_owned(),
            );
            continue;
        }
        if !r.succeeded() {
            continue;
        }
        // The caller saw a whole answer: the last upstream stream behind it must have been whole.
        let last = facts
            .calls
            .iter()
            .rev()
            .find(|c| c.request_id.as_deref() == Some(r.id.as_str()));
        if let Some(c) = last
            && let CallOutcome::Stream(end) = c.outcome
            && !matches!(end, StreamEnd::Completed | StreamEnd::Running)
        {
            t.broke(
                Some(&r.id),
                format!(
                    "the caller got a complete stream, but {}'s stream behind it ended {end:?}",
                    c.upstream
                ),
            );
        }
    }
    t
}

/// At least `min` of the requests (of `tenants`, sent after `after`) succeed.
/// Irreversible requests are not counted: at-most-once rightly lets them
/// fail once they may have reached a provider.
pub(super) fn success_rate(
    facts: &Facts,
    min: f64,
    tenants: &[String],
    (after, skip_keyed): (Duration, bool),
) -> Tally {
    let mut t = Tally::default();
    let mut ok = 0usize;
    let mut first_failed = None;
    let counted = |r: &&RequestFact| {
        let keyed = skip_keyed && r.idempotency_key.is_some();
        !(r.irreversible || keyed)
            && r.sent_at >= after
            && (tenants.is_empty() || tenants.contains(&r.tenant))
    };
    for r in facts.requests.iter().filter(counted) {
        t.look();
        if r.succeeded() {
            ok += 1;
        } else if first_failed.is_none() {
            first_failed = Some(r.id.clone());
        }
    }
    let rate = if t.checked == 0 {
        0.0
    } else {
        ok as f64 / t.checked as f64
    };
    if rate < min {
        let why = format!(
            "{ok} of {} requests succeeded ({:.1} %, below {:.1} %)",
            t.checked,
            rate * 100.0,
            min * 100.0
        );
        t.broke(first_failed.as_deref(), why);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::StreamFacts;
    use crate::invariants::testkit::{call, error, ok, streamed, whole_stream};

    fn facts(requests: Vec<RequestFact>) -> Facts {
        Facts {
            requests,
            ..Facts::default()
        }
    }

    #[test]
    fn definite_answer_breaks_on_silence_lateness_and_shapeless_errors() {
        let mut late = ok("late", "a");
        late.elapsed = Duration::from_secs(9);
        let mut silent = ok("silent", "a");
        silent.answer.status = None;
        silent.answer.failure = Some("timed out".to_owned());
        let mut shapeless = error("shapeless", 502);
        shapeless.answer.body.error_shape = false;
        let cut = streamed(
            "cut",
            "a",
            StreamFacts {
                events: 2,
                ..StreamFacts::default()
            },
        );
        let f = facts(vec![
            ok("fine", "a"),
            error("e", 503),
            late,
            silent,
            shapeless,
            cut,
        ]);
        let t = definite(&f, Duration::from_secs(5));
        assert_eq!((t.checked, t.violations), (6, 4));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("late"));
    }

    #[test]
    fn a_stream_ended_by_an_error_event_is_definite() {
        let ended = StreamFacts {
            events: 2,
            error_event: true,
            ..StreamFacts::default()
        };
        let t = definite(
            &facts(vec![streamed("s", "a", ended)]),
            Duration::from_secs(5),
        );
        assert_eq!(t.violations, 0);
    }

    #[test]
    fn truncation_is_caught_on_the_client_and_behind_it() {
        let short = StreamFacts {
            events: 3,
            finished: true,
            ..StreamFacts::default()
        };
        let mut f = facts(vec![
            streamed("clean-end", "a", short),
            streamed("whole", "a", whole_stream()),
            streamed("hidden-cut", "a", whole_stream()),
        ]);
        f.calls = vec![
            call("a", 1, "whole", CallOutcome::Stream(StreamEnd::Completed)),
            call(
                "a",
                2,
                "hidden-cut",
                CallOutcome::Stream(StreamEnd::EndedShort),
            ),
        ];
        let t = no_truncated_success(&f);
        assert_eq!(t.violations, 2);
        assert_eq!(t.first.unwrap().0.as_deref(), Some("clean-end"));
    }

    #[test]
    fn success_rate_counts_only_the_named_tenants_after_the_mark() {
        let mut before = error("before", 502);
        before.sent_at = Duration::ZERO;
        let mut after = error("after", 502);
        after.sent_at = Duration::from_secs(2);
        let mut good = ok("good", "a");
        good.sent_at = Duration::from_secs(2);
        let mut irreversible = error("irreversible", 502);
        irreversible.sent_at = Duration::from_secs(2);
        irreversible.irreversible = true;
        let f = facts(vec![before, after, good, irreversible]);
        let t = success_rate(&f, 0.9, &[], (Duration::from_secs(1), false));
        assert_eq!((t.checked, t.violations), (2, 1));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("after"));
        let t = success_rate(&f, 0.5, &[], (Duration::from_secs(1), false));
        assert_eq!(t.violations, 0);
        // A keyed failure is left out when asked.
        let mut f = f;
        f.requests[1].idempotency_key = Some("k".to_owned());
        let t = success_rate(&f, 0.9, &[], (Duration::from_secs(1), true));
        assert_eq!((t.checked, t.violations), (1, 0));
    }
}
