//! Owns "a provider's rejection reaches the caller as it was": a request the
//! provider rejected (a 4xx caused by the request, such as a content-filter
//! refusal) is not retried (the rejection is its last attempt), and the
//! caller gets the provider's status and error code.

use signalbox_core::OutcomeClass;

use super::Tally;
use crate::facts::Facts;

pub(super) fn propagated(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    for r in &facts.requests {
        let Some(rec) = facts.record(r) else { continue };
        let Some(at) = rec
            .attempts
            .iter()
            .position(|a| a.outcome == OutcomeClass::RequestRejected)
        else {
            continue;
        };
        t.look();
        let rejected = &rec.attempts[at];
        if at + 1 < rec.attempts.len() {
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
}
