//! The try order: health skips, the intended route, stickiness.

use std::sync::Arc;

use signalbox_core::{OutcomeClass, RouteIdx, SkipKind};
use tokio::time::Duration;

use super::*;
use crate::RouteTable;
use crate::scripted::Scripted;

/// `n` healthy routes `r0`, `r1`, ….
pub(super) fn table(n: usize) -> RouteTable {
    RouteTable::new(
        (0..n)
            .map(|i| Arc::new(Scripted::new([])).route(&format!("r{i}")))
            .collect(),
    )
}

pub(super) fn idx(v: &[usize]) -> Vec<RouteIdx> {
    v.iter().copied().map(RouteIdx::new).collect()
}

fn open(routes: &RouteTable, i: usize) {
    let h = &routes.get(RouteIdx::new(i)).unwrap().health;
    for _ in 0..5 {
        h.record(OutcomeClass::ServerError, Duration::from_millis(1), None);
    }
}

#[tokio::test(start_paused = true)]
async fn healthy_routes_keep_the_policy_order() {
    let routes = table(3);
    let o = order(&routes, &idx(&[2, 0, 1]), 1, None);
    assert_eq!(o.routes, idx(&[2, 0, 1]));
    assert_eq!(o.intended, Some(RouteIdx::new(2)));
    assert!(o.skipped.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_is_skipped_but_stays_the_intended_route() {
    let routes = table(2);
    open(&routes, 0);
    let o = order(&routes, &idx(&[0, 1]), 1, None);
    assert_eq!(o.routes, idx(&[1]));
    assert_eq!(o.skipped[0].kind, SkipKind::CircuitOpen);
    // Serving from route 1 is a fallback.
    assert_eq!(o.intended, Some(RouteIdx::new(0)));
}

fn sticky(session: &str) -> StickyInput<'_> {
    StickyInput {
        session,
        remembered: None,
        group: 3,
        intent: "",
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_sticks_to_one_route_of_its_group() {
    let routes = table(3);
    let first = order(&routes, &idx(&[0, 1, 2]), 1, Some(sticky("s-1")));
    let again = order(&routes, &idx(&[0, 1, 2]), 99, Some(sticky("s-1")));
    assert_eq!(
        first.sticky, again.sticky,
        "the seed does not move a session"
    );
    assert_eq!(first.routes.first().copied(), first.sticky);
    let spread: std::collections::HashSet<_> = (0..40)
        .map(|s| {
            let session = format!("s-{s}");
            order(&routes, &idx(&[0, 1, 2]), 1, Some(sticky(&session))).sticky
        })
        .collect();
    assert!(spread.len() >= 2, "sessions spread over {spread:?}");
}

#[tokio::test(start_paused = true)]
async fn a_remembered_route_wins_while_it_is_healthy_and_in_the_group() {
    let routes = table(3);
    let input = StickyInput {
        session: "s",
        remembered: Some(RouteIdx::new(2)),
        group: 3,
        intent: "",
    };
    let o = order(&routes, &idx(&[0, 1, 2]), 1, Some(input));
    assert_eq!(o.sticky, Some(RouteIdx::new(2)));
    assert_eq!(o.routes.first(), Some(&RouteIdx::new(2)));
    open(&routes, 2);
    let o = order(&routes, &idx(&[0, 1, 2]), 1, Some(input));
    assert_ne!(
        o.sticky,
        Some(RouteIdx::new(2)),
        "an open route loses its sessions"
    );
}

fn warn(routes: &RouteTable, i: usize, weight: f64) {
    let q = &routes.get(RouteIdx::new(i)).unwrap().health.quality;
    q.configure(weight, Duration::from_secs(60));
    q.record_warning(Some("tool-call 0.85 < 0.95"));
}

#[tokio::test(start_paused = true)]
async fn a_warned_route_keeps_its_warn_weight_share_first_and_the_rest_as_fallback() {
    let routes = table(2);
    warn(&routes, 0, 0.25);
    // Fixed seeds: the count is the same on every run.
    let orders: Vec<Order> = (0..10_000u64)
        .map(|seed| order(&routes, &idx(&[0, 1]), seed, None))
        .collect();
    let first = orders
        .iter()
        .filter(|o| o.routes[0] == RouteIdx::new(0))
        .count();
    assert!((2300..2700).contains(&first), "{first} of 10000 first");
    assert!(
        orders
            .iter()
            .all(|o| o.routes.len() == 2 && o.skipped.is_empty()),
        "a warning never skips: the warned route stays a fallback"
    );
    // Sessions among equally ranked routes: weights 0.25 and 1, so about
    // a fifth of the sessions stick to the warned route.
    let sticky_first = (0..10_000)
        .filter(|s| {
            let session = format!("s-{s}");
            let input = StickyInput {
                session: &session,
                remembered: None,
                group: 2,
                intent: "",
            };
            order(&routes, &idx(&[0, 1]), 1, Some(input)).sticky == Some(RouteIdx::new(0))
        })
        .count();
    assert!((1800..2200).contains(&sticky_first), "{sticky_first}");
    // Operators see the share it keeps (`/admin/routes`).
    let view = routes.get(RouteIdx::new(0)).unwrap().health.view();
    assert_eq!(view.quality_share, 0.25);
    assert!(view.quality_warning.is_some());
    // A full weight is no reduction at all.
    warn(&routes, 0, 1.0);
    assert!(
        (0..100)
            .all(|seed| order(&routes, &idx(&[0, 1]), seed, None).routes[0] == RouteIdx::new(0))
    );
}

#[tokio::test(start_paused = true)]
async fn a_warned_route_moved_for_a_request_is_named_with_the_order_tried() {
    let routes = table(3);
    assert!(
        (0..200).all(|seed| order(&routes, &idx(&[0, 1, 2]), seed, None)
            .reordered
            .is_none()),
        "nothing warned, nothing to name"
    );
    warn(&routes, 0, 0.25);
    let orders: Vec<Order> = (0..200u64)
        .map(|seed| order(&routes, &idx(&[0, 1, 2]), seed, None))
        .collect();
    let (moved, kept): (Vec<&Order>, Vec<&Order>) =
        orders.iter().partition(|o| o.routes[0] != RouteIdx::new(0));
    assert!(!moved.is_empty() && !kept.is_empty());
    for o in moved {
        let r = o
            .reordered
            .as_deref()
            .expect("a moved request names the move");
        assert_eq!(r.order, ["r1", "r2", "r0"]);
        assert_eq!(r.demoted.len(), 1);
        let d = &r.demoted[0];
        assert_eq!(
            (d.route.as_str(), d.kind, d.share),
            ("r0", signalbox_core::DemotionKind::QualityWarning, 0.25)
        );
        assert!(d.reason.contains("tool-call 0.85 < 0.95"), "{}", d.reason);
    }
    assert!(
        kept.iter().all(|o| o.reordered.is_none()),
        "a request for which it kept its place names nothing"
    );
    // Already last: moving it changes nothing, so nothing is named.
    assert!((0..200).all(|seed| {
        order(&routes, &idx(&[1, 2, 0]), seed, None)
            .reordered
            .is_none()
    }));
}

#[tokio::test(start_paused = true)]
async fn a_route_disabled_for_an_intent_is_skipped_for_that_intent_only() {
    let routes = table(2);
    let q = &routes.get(RouteIdx::new(0)).unwrap().health.quality;
    q.record_intent("weather", false, "w tool-call 0.00 < 1.00", 1, 1);
    let mut o = order(&routes, &idx(&[0, 1]), 1, None);
    apply_intent_gates(&routes, &mut o, "weather", 1);
    assert_eq!(o.routes, idx(&[1]));
    assert_eq!(o.skipped[0].kind, SkipKind::QualityRegression);
    assert!(
        o.skipped[0].reason.ends_with("(for intent weather)"),
        "{}",
        o.skipped[0].reason
    );
    assert_eq!(
        o.intended,
        Some(RouteIdx::new(0)),
        "serving from r1 is a fallback"
    );
    for intent in ["general", ""] {
        let mut o = order(&routes, &idx(&[0, 1]), 1, None);
        apply_intent_gates(&routes, &mut o, intent, 1);
        assert_eq!(o.routes, idx(&[0, 1]), "intent {intent:?}");
        assert!(o.skipped.is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn a_route_warned_for_an_intent_keeps_its_share_of_that_intent_first() {
    let routes = table(2);
    let q = &routes.get(RouteIdx::new(0)).unwrap().health.quality;
    q.configure(0.25, Duration::from_secs(60));
    q.record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    let orders: Vec<Order> = (0..10_000u64)
        .map(|seed| {
            let mut o = order(&routes, &idx(&[0, 1]), seed, None);
            apply_intent_gates(&routes, &mut o, "weather", seed);
            o
        })
        .collect();
    let first = orders
        .iter()
        .filter(|o| o.routes[0] == RouteIdx::new(0))
        .count();
    assert!((2300..2700).contains(&first), "{first} of 10000 first");
    for o in &orders {
        assert_eq!(o.routes.len(), 2, "a warning never skips");
        if o.routes[0] == RouteIdx::new(1) {
            let r = o
                .reordered
                .as_deref()
                .expect("a moved request names the move");
            assert_eq!(r.order, ["r1", "r0"]);
            assert!(
                r.demoted[0].reason.ends_with("(for intent weather)"),
                "{}",
                r.demoted[0].reason
            );
            assert_eq!(o.intended, Some(RouteIdx::new(1)), "not a fallback");
        } else {
            assert!(o.reordered.is_none());
        }
    }
    // Other intents keep the route in place.
    let mut o = order(&routes, &idx(&[0, 1]), 3, None);
    apply_intent_gates(&routes, &mut o, "general", 3);
    assert_eq!(o.routes, idx(&[0, 1]));
}
