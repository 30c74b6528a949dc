//! Owns "a provider's rejection reaches the caller as it was": a request the
//! provider rejected (a 4xx caused by the request, such as a content-filter
//! refusal) is not retried (the rejection is its last attempt), and the
//! caller gets the provider's status and error code. A context overflow
//! (`context_length_exceeded`) is the one rejection that may move on — to
//! a route with a larger window, never back to one that overflowed — and
//! when nothing larger serves, the caller gets that rejection.

use signalbox_core::{AttemptRecord, OutcomeClass};

use super::Tally;
use crate::facts::Facts;

pub(super) fn propagated(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    for r in &facts.requests {
        let Some(rec) = facts.record(r) else { continue };
        if let Some(why) = resent_after_overflow(&rec.attempts) {
            t.look();
            t.broke(Some(&r.id), why);
            continue;
        }
        let served = rec.attempts.last().map(|a| a.outcome) == Some(OutcomeClass::Success);
        let Some(at) = rec
            .attempts
            .iter()
            .position(|a| a.outcome == OutcomeClass::RequestRejected && !(overflowed(a) && served))
        else {
            continue;
        };
        t.look();
        let rejected = &rec.attempts[at];
        if at + 1 < rec.attempts.len() && !overflowed(rejected) {
            let next = &rec.attempts[at + 1];
            let why = format!(
                "rejected by {} and then tried again on {}",
                rejected.route, next.route
            );
            t.broke(Some(&r.id), why);
            continue;
        }
        if rejected.status.is_some() && r.answer.status != rejected.status {
            let why = format!(
                "{} rejected it with {:?}, the caller got {:?}",
                rejected.route, rejected.status, r.answer.status
            );
            t.broke(Some(&r.id), why);
            continue;
        }
        let provider_code = rejected
            .provider_error
            .as_ref()
            .and_then(|p| p.code.as_deref());
        if provider_code.is_some() && r.answer.body.error_code.as_deref() != provider_code {
            let why = format!(
                "{} said {provider_code:?}, the caller got code {:?}",
                rejected.route, r.answer.body.error_code
            );
            t.broke(Some(&r.id), why);
        }
    }
    t
}

/// The provider said the prompt does not fit the model's context window.
fn overflowed(a: &AttemptRecord) -> bool {
    let code = a.provider_error.as_ref().and_then(|p| p.code.as_deref());
    code == Some("context_length_exceeded")
}

/// A route that overflowed and was then sent the same request again.
fn resent_after_overflow(attempts: &[AttemptRecord]) -> Option<String> {
    attempts.iter().enumerate().find_map(|(i, a)| {
        let again = attempts[i + 1..].iter().find(|b| b.route == a.route)?;
        overflowed(a).then(|| {
            format!(
                "{} overflowed its context window and was sent it again",
                again.route
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use signalbox_core::ProviderErrorCode;

    use super::*;
    use crate::invariants::testkit::{error, record};

    fn rejected_by(id: &str, code: &str, then: Option<&str>) -> signalbox_core::DecisionRecord {
        let mut attempts = vec![("a", OutcomeClass::RequestRejected)];
        attempts.extend(then.map(|r| (r, OutcomeClass::Success)));
        let mut rec = record(id, &attempts);
        rec.attempts[0].status = Some(400);
        rec.attempts[0].provider_error = Some(ProviderErrorCode {
            code: Some(code.to_owned()),
            ..ProviderErrorCode::default()
        });
        rec
    }

    #[test]
    fn a_retried_or_rewritten_rejection_breaks_it() {
        let mut kept = error("kept", 400);
        kept.answer.body.error_code = Some("content_filter".to_owned());
        let mut lost = error("lost", 400);
        lost.answer.body.error_code = Some("upstream_rejected".to_owned());
        let mut f = Facts {
            requests: vec![kept, lost, error("retried", 400)],
            ..Facts::default()
        };
        f.records.insert(
            "kept".to_owned(),
            rejected_by("kept", "content_filter", None),
        );
        f.records.insert(
            "lost".to_owned(),
            rejected_by("lost", "content_filter", None),
        );
        f.records.insert(
            "retried".to_owned(),
            rejected_by("retried", "content_filter", Some("b")),
        );
        let t = propagated(&f);
        assert_eq!((t.checked, t.violations), (3, 2));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("lost"));
    }

    #[test]
    fn a_context_overflow_may_move_to_another_route_but_never_back() {
        let moved = rejected_by("moved", "context_length_exceeded", Some("b"));
        let mut again = rejected_by("again", "context_length_exceeded", None);
        again.attempts.push(again.attempts[0].clone());
        let mut f = Facts {
            requests: vec![
                crate::invariants::testkit::ok("moved", "b"),
                error("again", 400),
            ],
            ..Facts::default()
        };
        f.records.insert("moved".to_owned(), moved);
        f.records.insert("again".to_owned(), again);
        let t = propagated(&f);
        assert_eq!(t.violations, 1);
        let (id, why) = t.first.unwrap();
        assert_eq!(id.as_deref(), Some("again"));
        assert!(why.contains("sent it again"), "{why}");
    }
}
