//! Owns "no silent degradation": an answer's degradation steps agree across
//! the `x-signalbox-degraded` header, the body's `signalbox` marker and the
//! decision record, and an answer served after failing over (a failed
//! attempt on another route, or the first choice skipped for its health)
//! is marked. An idempotent replay carries the stored answer's marks; its
//! own record took no step, so only header and body are compared for it.

use signalbox_core::{OutcomeClass, SkipKind};

use super::Tally;
use crate::facts::{Facts, RequestFact};

pub(super) fn marked(facts: &Facts) -> Tally {
    let mut t = Tally::default();
    for r in facts.requests.iter().filter(|r| r.succeeded()) {
        t.look();
        if let Some(why) = unmarked(facts, r) {
            t.broke(Some(&r.id), why);
        }
    }
    t
}

fn unmarked(facts: &Facts, r: &RequestFact) -> Option<String> {
    let header = &r.answer.degraded_header;
    let marker = &r.answer.body.marker;
    if header != marker {
        return Some(format!(
            "header says {header:?}, body marker says {marker:?}"
        ));
    }
    let Some(record) = facts.record(r) else {
        return (!header.is_empty()).then(|| "degraded, but no decision record".to_owned());
    };
    // A replay repeats the stored answer, marks and all; the degradation is
    // in the record of the request that executed (checked on its own).
    if r.answer.replay || record.idempotency.as_deref() == Some("replayed") {
        return None;
    }
    if &record.degraded != header {
        return Some(format!(
            "header says {header:?}, decision record says {:?}",
            record.degraded
        ));
    }
    let served = record.chosen.as_deref()?;
    let failed_elsewhere = record
        .attempts
        .iter()
        .any(|a| a.route.as_str() != served && a.outcome != OutcomeClass::Success);
    let first_skipped = record.ranking.first().is_some_and(|first| {
        first != served
            && record.skipped.iter().any(|s| {
                &s.route == first
                    && matches!(
                        s.kind,
                        SkipKind::CircuitOpen
                            | SkipKind::OpenElsewhere
                            | SkipKind::HalfOpenFull
                            | SkipKind::Cooldown
                    )
            })
    });
    if (failed_elsewhere || first_skipped) && header.is_empty() {
        let why = if failed_elsewhere {
            "failed over to"
        } else {
            "skipped the unhealthy first choice for"
        };
        return Some(format!("{why} {served} without a degradation mark"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::testkit::{ok, record};

    fn degraded(id: &str) -> RequestFact {
        let mut r = ok(id, "b");
        r.answer.degraded_header = vec!["fallback-route".to_owned()];
        r.answer.body.marker = vec!["fallback-route".to_owned()];
        r
    }

    #[test]
    fn marks_must_agree_and_a_failover_must_be_marked() {
        let failover = [
            ("a", OutcomeClass::ServerError),
            ("b", OutcomeClass::Success),
        ];
        let mut marked = record("marked", &failover);
        marked.degraded = vec!["fallback-route".to_owned()];
        let mut no_body_marker = degraded("no-body");
        no_body_marker.answer.body.marker.clear();
        let mut f = Facts {
            requests: vec![
                degraded("marked"),
                no_body_marker,
                ok("silent", "b"),
                degraded("unrecorded"),
            ],
            ..Facts::default()
        };
        f.records.insert("marked".to_owned(), marked);
        f.records
            .insert("silent".to_owned(), record("silent", &failover));
        f.records
            .insert("unrecorded".to_owned(), record("unrecorded", &failover));
        let t = super::marked(&f);
        assert_eq!((t.checked, t.violations), (4, 3));
        assert_eq!(t.first.unwrap().0.as_deref(), Some("no-body"));
    }

    #[test]
    fn a_replay_keeps_the_stored_marks_without_a_record_of_its_own() {
        let mut replay = degraded("replay");
        replay.answer.replay = true;
        let mut f = Facts {
            requests: vec![replay],
            ..Facts::default()
        };
        f.records.insert("replay".to_owned(), record("replay", &[]));
        assert_eq!(super::marked(&f).violations, 0);
        f.requests[0].answer.body.marker.clear();
        assert_eq!(super::marked(&f).violations, 1);
    }

    #[test]
    fn a_silent_failover_is_named() {
        let mut f = Facts {
            requests: vec![ok("silent", "b")],
            ..Facts::default()
        };
        let failover = [("a", OutcomeClass::Timeout), ("b", OutcomeClass::Success)];
        f.records
            .insert("silent".to_owned(), record("silent", &failover));
        let t = super::marked(&f);
        assert_eq!(
            t.first.unwrap().1,
            "failed over to b without a degradation mark"
        );
    }
}
