//! Stickiness under the quality loop's verdicts: a warned route's share
//! (route-wide or for the request's intent) applied to sessions, a closed
//! one never kept, moves named, every count from fixed session keys.

use signalbox_core::{DemotionKind, RouteIdx, SkipKind};
use tokio::time::Duration;

use super::super::tests::{idx, table};
use super::super::{Order, apply_intent_gates, order};
use super::*;

fn quality(routes: &RouteTable, i: usize) -> &crate::health::QualityGate {
    &routes.get(RouteIdx::new(i)).unwrap().health.quality
}

fn input<'a>(session: &'a str, remembered: Option<usize>, intent: &'a str) -> StickyInput<'a> {
    StickyInput {
        session,
        remembered: remembered.map(RouteIdx::new),
        group: 2,
        intent,
    }
}

/// The order of a request of `intent` in `session`, intent gates applied
/// (as the attempt loop does).
fn ordered(routes: &RouteTable, session: &str, remembered: Option<usize>, intent: &str) -> Order {
    let mut o = order(
        routes,
        &idx(&[0, 1]),
        7,
        Some(input(session, remembered, intent)),
    );
    apply_intent_gates(routes, &mut o, intent, 7);
    o
}

fn sessions() -> impl Iterator<Item = String> {
    (0..10_000).map(|s| format!("s-{s}"))
}

#[tokio::test(start_paused = true)]
async fn a_route_warned_for_the_intent_weighs_less_for_that_intents_sessions() {
    let routes = table(2);
    let q = quality(&routes, 0);
    q.configure(0.25, Duration::from_secs(60));
    q.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    let on_r0 = |intent: &str| {
        sessions()
            .filter(|s| ordered(&routes, s, None, intent).sticky == Some(RouteIdx::new(0)))
            .count()
    };
    // Weights 1 and 1: half the sessions; 0.25 and 1: a fifth.
    let general = on_r0("general");
    assert!((4700..5300).contains(&general), "{general}");
    let weather = on_r0("weather");
    assert!((1800..2200).contains(&weather), "{weather}");
    // A session moved off r0 says so, first in its record, with the
    // intent's warning and the share; one that kept its route says nothing.
    let (mut moved, mut quiet) = (0, 0);
    for s in sessions() {
        let home = ordered(&routes, &s, None, "general").sticky;
        let o = ordered(&routes, &s, None, "weather");
        assert_eq!(
            o.routes.first().copied(),
            o.sticky,
            "the session's route first"
        );
        if home == o.sticky {
            quiet += 1;
            assert!(
                o.reordered.is_none(),
                "{s}: kept its route, nothing to name"
            );
            continue;
        }
        moved += 1;
        assert_eq!(
            home,
            Some(RouteIdx::new(0)),
            "sessions only leave the warned route"
        );
        let r = o.reordered.as_deref().expect("a moved session is named");
        let d = &r.demoted[0];
        assert_eq!(
            (d.route.as_str(), d.kind, d.share),
            ("r0", DemotionKind::SessionQualityWarning, 0.25)
        );
        assert_eq!(
            d.reason,
            "quality warning: w tool-call 0.90 < 0.95 (for intent weather)"
        );
        assert_eq!(r.order[0], "r1");
        assert_eq!(o.intended, Some(RouteIdx::new(1)), "not a fallback");
    }
    assert_eq!(moved, general - weather);
    assert!(quiet > 0);
}

#[tokio::test(start_paused = true)]
async fn a_warned_remembered_route_keeps_its_share_of_sessions_the_same_way_every_time() {
    let routes = table(2);
    let q = quality(&routes, 0);
    q.configure(0.25, Duration::from_secs(60));
    q.record_warning(Some("tool-call 0.85 < 0.95"));
    let kept: Vec<String> = sessions()
        .filter(|s| ordered(&routes, s, Some(0), "").sticky == Some(RouteIdx::new(0)))
        .collect();
    assert!((2300..2700).contains(&kept.len()), "{}", kept.len());
    for s in sessions().take(500) {
        // Another seed (another request of the session): the same route.
        let a = order(&routes, &idx(&[0, 1]), 1, Some(input(&s, Some(0), "")));
        let b = order(&routes, &idx(&[0, 1]), 99, Some(input(&s, Some(0), "")));
        assert_eq!(a.sticky, b.sticky, "{s}");
        assert_eq!(a.routes.first().copied(), a.sticky, "{s}");
        match a.sticky {
            Some(r) if r == RouteIdx::new(0) => {
                assert!(a.reordered.is_none(), "{s}: kept, nothing to name");
            }
            _ => {
                let r = a.reordered.as_deref().expect("a moved session is named");
                assert_eq!(r.demoted[0].kind, DemotionKind::SessionQualityWarning);
                assert_eq!(
                    r.demoted[0].reason,
                    "quality warning: tool-call 0.85 < 0.95"
                );
            }
        }
    }
    // The warning clears: every session is back on its remembered route.
    q.record_warning(None);
    assert!(sessions().all(|s| ordered(&routes, &s, Some(0), "").sticky == Some(RouteIdx::new(0))));
    // Warned for an intent: the same share of that intent's sessions.
    q.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    let weather = sessions()
        .filter(|s| ordered(&routes, s, Some(0), "weather").sticky == Some(RouteIdx::new(0)))
        .count();
    assert!((2300..2700).contains(&weather), "{weather}");
    assert!(
        sessions()
            .all(|s| ordered(&routes, &s, Some(0), "general").sticky == Some(RouteIdx::new(0)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_route_closed_for_the_intent_is_never_kept_by_stickiness() {
    let routes = table(2);
    quality(&routes, 0).record_intent("weather", false, "w tool-call 0.00 < 1.00", 1, 1);
    for s in sessions().take(2_000) {
        for remembered in [None, Some(0)] {
            let o = ordered(&routes, &s, remembered, "weather");
            assert_eq!(o.sticky, Some(RouteIdx::new(1)), "{s}");
            assert_eq!(o.routes, idx(&[1]), "{s}");
            assert_eq!(o.skipped.len(), 1);
            assert_eq!(
                o.skipped[0].kind,
                SkipKind::QualityRegression,
                "named as a skip"
            );
            assert!(o.skipped[0].reason.ends_with("(for intent weather)"));
        }
        // Other intents: the remembered route keeps its sessions.
        let o = ordered(&routes, &s, Some(0), "general");
        assert_eq!(o.sticky, Some(RouteIdx::new(0)), "{s}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_route_closed_for_every_request_is_never_kept_by_stickiness() {
    let routes = table(2);
    quality(&routes, 0).record(false, "tool-call 0.00 < 1.00", 1, 1);
    for s in sessions().take(2_000) {
        for (remembered, intent) in [(None, ""), (Some(0), ""), (Some(0), "weather")] {
            let o = ordered(&routes, &s, remembered, intent);
            assert_eq!(o.sticky, Some(RouteIdx::new(1)), "{s}");
            assert_eq!(o.skipped[0].kind, SkipKind::QualityRegression);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn stickiness_never_leaves_the_candidates_nor_names_a_move_it_could_not_make() {
    let routes = table(3);
    let q = quality(&routes, 1);
    q.configure(0.25, Duration::from_secs(60));
    q.record_warning(Some("tool-call 0.85 < 0.95"));
    q.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    for s in sessions().take(2_000) {
        // r0 is no candidate (a hard constraint left it out): remembered or
        // not, the session lands on a candidate.
        for remembered in [None, Some(0), Some(1)] {
            let mut s_in = input(&s, remembered, "weather");
            s_in.group = 2;
            let o = order(&routes, &idx(&[1, 2]), 3, Some(s_in));
            assert!(matches!(o.sticky, Some(r) if r != RouteIdx::new(0)), "{s}");
            assert!(!o.routes.contains(&RouteIdx::new(0)));
        }
        // A warned route alone in its group keeps the session: nowhere to go.
        let alone = StickyInput {
            session: &s,
            remembered: Some(RouteIdx::new(1)),
            group: 1,
            intent: "weather",
        };
        let o = order(&routes, &idx(&[1, 2]), 3, Some(alone));
        assert_eq!(o.sticky, Some(RouteIdx::new(1)), "{s}");
        assert!(
            o.reordered.as_deref().is_none_or(|r| r
                .demoted
                .iter()
                .all(|d| d.kind != DemotionKind::SessionQualityWarning)),
            "{s}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn nothing_warned_moves_no_session_and_names_nothing() {
    let routes = table(2);
    for s in sessions().take(2_000) {
        let o = ordered(&routes, &s, None, "weather");
        assert!(o.reordered.is_none(), "{s}");
        let choice = choose(&routes, &idx(&[0, 1]), input(&s, None, "weather"));
        assert!(choice.is_some_and(|c| c.moved.is_none()));
    }
}
