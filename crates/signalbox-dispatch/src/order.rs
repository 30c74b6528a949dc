//! Owns the order in which a request tries its candidate routes: the
//! policy's ranking, adjusted by health (routes an operator drained or
//! forced open, open circuits and quota cooldowns skipped, slow routes after healthy ones, recovering routes ramped in,
//! routes the quality loop warned about kept in place for their
//! `warn-weight` share of requests and moved after the others for the rest),
//! routes a suite judging them for the request's intent disabled skipped
//! (or, warned, moved back as above),
//! and by session stickiness (a warned route's share applied to sessions
//! too: [`sticky`]). The order is a pure function of the request's
//! seed, the session and the health state, so it is deterministic. A warned
//! route moved for a request, or a session moved off one, is named, with
//! the order tried, for its record (built only then: nothing is allocated
//! while no route is warned).

use signalbox_core::{DemotionKind, DemotionRecord, ReorderRecord, RouteIdx};

use crate::RouteTable;
use crate::health::{Admission, Hold};

mod sticky;

/// A route left out of the order, and why.
pub use signalbox_core::SkipRecord as Skipped;

/// What stickiness decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StickyInput<'a> {
    /// The session key (`x-signalbox-session`).
    pub session: &'a str,
    /// The route this session was last served by, if remembered.
    pub remembered: Option<RouteIdx>,
    /// How many leading candidates are ranked equal (the sticky group).
    pub group: usize,
    /// The request's intent: a route warned for it weighs less in the
    /// group, one closed for it is left out (empty: none).
    pub intent: &'a str,
}

/// The try order.
#[derive(Debug, Default)]
pub(crate) struct Order {
    /// Routes to try, in order.
    pub routes: Vec<RouteIdx>,
    /// The route the policy and stickiness meant to serve (before failures
    /// and unhealthy states); serving from another one is a fallback.
    pub intended: Option<RouteIdx>,
    /// Routes skipped for their health.
    pub skipped: Vec<Skipped>,
    /// The sticky choice, when a session was given.
    pub sticky: Option<RouteIdx>,
    /// Warned routes moved after the others for this request, with the
    /// order tried (`None` for almost every request).
    pub reordered: Option<Box<ReorderRecord>>,
}

pub(crate) fn order<X>(
    routes: &RouteTable<X>,
    candidates: &[RouteIdx],
    seed: u64,
    sticky: Option<StickyInput<'_>>,
) -> Order {
    let mut candidates: Vec<RouteIdx> = candidates.to_vec();
    let mut out = Order::default();
    let mut session_moved = None;
    if let Some(s) = sticky
        && let Some(choice) = sticky::choose(routes, &candidates, s)
    {
        if let Some(pos) = candidates.iter().position(|&c| c == choice.route) {
            candidates.remove(pos);
            candidates.insert(0, choice.route);
        }
        out.sticky = Some(choice.route);
        session_moved = choice.moved;
    }
    let mut healthy = Vec::with_capacity(candidates.len());
    let mut ramping = Vec::new();
    let mut slow = Vec::new();
    let mut demoted = Vec::new();
    for &idx in &candidates {
        let Some(target) = routes.get(idx) else {
            continue;
        };
        if let Some(Hold::Out(action)) = target.health.hold() {
            // Named by the action's id, so the record and explain say which.
            out.intended.get_or_insert(idx);
            out.skipped
                .push(Skipped::operator(target.id.to_string(), &action));
            continue;
        }
        match target.health.peek() {
            Admission::Skip(kind, reason) => {
                out.intended.get_or_insert(idx);
                out.skipped
                    .push(Skipped::new(target.id.to_string(), kind, reason));
            }
            Admission::Trial => {
                out.intended.get_or_insert(idx);
                healthy.push(idx);
            }
            Admission::Allowed { slow: true, .. } => {
                out.intended.get_or_insert(idx);
                slow.push(idx);
            }
            Admission::Allowed { ramp, .. } => {
                // A warned route keeps its place for its share of requests,
                // as a recovering one does for its ramp.
                let share = target.health.quality.share();
                let ramp = ramp * share;
                if ramp >= 1.0 || unit(mix(seed, &target.id)) < ramp || out.sticky == Some(idx) {
                    out.intended.get_or_insert(idx);
                    healthy.push(idx);
                } else {
                    ramping.push(idx);
                    if share < 1.0 {
                        demoted.push(idx);
                    }
                }
            }
        }
    }
    if out.intended.is_none() {
        out.intended = ramping.first().copied();
    }
    out.routes = healthy;
    out.routes.extend(ramping);
    out.routes.extend(slow);
    if !demoted.is_empty() {
        out.reordered = reordered(routes, &candidates, &out.routes, &demoted);
    }
    if let Some(moved) = session_moved {
        name_session_move(routes, &mut out, moved);
    }
    out
}

/// Names the session's move off a warned route in the order's record,
/// first: it decided the route tried first.
fn name_session_move<X>(routes: &RouteTable<X>, out: &mut Order, moved: DemotionRecord) {
    let record = out.reordered.get_or_insert_with(Default::default);
    record.demoted.insert(0, moved);
    record.order = ids(routes, &out.routes);
}

/// Applies the gates of suites judging routes for the request's `intent`
/// (one atomic load or two per route while no intent's gate is closed or
/// warned): a route they disabled is left out, as a quality skip (the
/// intended route stays as it was: serving from another one is a
/// fallback, as for a route-wide skip); a route they warned about keeps
/// its place for its `warn-weight` share of requests (by the same hash as
/// a route-wide warning) and is moved last for the rest, named in
/// `reordered`.
pub(crate) fn apply_intent_gates<X>(
    routes: &RouteTable<X>,
    order: &mut Order,
    intent: &str,
    seed: u64,
) {
    if intent.is_empty() {
        return;
    }
    let skipped = &mut order.skipped;
    let before = order.routes.len();
    order.routes.retain(|&idx| {
        let Some(r) = routes.get(idx) else {
            return true;
        };
        match r.health.quality.closed_for(intent) {
            Some(why) => {
                skipped.push(Skipped::new(
                    r.id.to_string(),
                    signalbox_core::SkipKind::QualityRegression,
                    why,
                ));
                false
            }
            None => true,
        }
    });
    if order.routes.len() != before
        && let Some(record) = order.reordered.as_deref_mut()
    {
        // A session moved off a warned route named the order before this
        // intent's skips.
        record.order = ids(routes, &order.routes);
    }
    let moved: Vec<(RouteIdx, DemotionRecord)> = order
        .routes
        .iter()
        .filter(|&&idx| order.sticky != Some(idx))
        .filter_map(|&idx| routes.get(idx).map(|r| (idx, r)))
        .filter_map(|(idx, r)| {
            let why = r.health.quality.warning_for(intent)?;
            let share = r.health.quality.warn_weight();
            (unit(mix(seed, &r.id)) >= share).then(|| {
                let d = DemotionRecord {
                    route: r.id.to_string(),
                    kind: DemotionKind::QualityWarning,
                    reason: why,
                    share,
                };
                (idx, d)
            })
        })
        .collect();
    if !moved.is_empty() {
        move_last(routes, order, moved);
    }
}

/// Moves each of `moved` after the other routes, names the ones that had
/// a route behind them in `order.reordered`, and keeps the intended route
/// one that was not moved.
fn move_last<X>(routes: &RouteTable<X>, order: &mut Order, moved: Vec<(RouteIdx, DemotionRecord)>) {
    let before = order.routes.clone();
    order.routes.retain(|i| !moved.iter().any(|(m, _)| m == i));
    let kept = order.routes.len();
    order.routes.extend(moved.iter().map(|(m, _)| *m));
    if order
        .intended
        .is_some_and(|i| moved.iter().any(|(m, _)| *m == i))
    {
        order.intended = order.routes.first().copied();
    }
    let position = |list: &[RouteIdx], idx| list.iter().position(|&r| r == idx);
    let named: Vec<DemotionRecord> = moved
        .into_iter()
        .filter(|(idx, _)| position(&before, *idx) < position(&order.routes, *idx) && kept > 0)
        .map(|(_, d)| d)
        .collect();
    if named.is_empty() {
        return;
    }
    let order_ids = ids(routes, &order.routes);
    let record = order.reordered.get_or_insert_with(Default::default);
    record.demoted.extend(named);
    record.order = order_ids;
}

/// The ids of `order`, for a record.
fn ids<X>(routes: &RouteTable<X>, order: &[RouteIdx]) -> Vec<String> {
    order
        .iter()
        .filter_map(|&idx| routes.get(idx))
        .map(|r| r.id.to_string())
        .collect()
}

/// The warned routes `demoted` that ended up behind a route the policy
/// ranked after them (a warned route already last moved nothing), each with
/// its warning and share, and the order tried; `None` when none moved.
fn reordered<X>(
    routes: &RouteTable<X>,
    candidates: &[RouteIdx],
    tried: &[RouteIdx],
    demoted: &[RouteIdx],
) -> Option<Box<ReorderRecord>> {
    let ranked: Vec<RouteIdx> = candidates
        .iter()
        .copied()
        .filter(|c| tried.contains(c))
        .collect();
    let position = |list: &[RouteIdx], idx| list.iter().position(|&r| r == idx);
    let moved: Vec<DemotionRecord> = demoted
        .iter()
        .filter(|&&idx| position(tried, idx) > position(&ranked, idx))
        .filter_map(|&idx| routes.get(idx))
        .map(|r| DemotionRecord {
            route: r.id.to_string(),
            kind: DemotionKind::QualityWarning,
            reason: r.health.quality.warning().unwrap_or_default(),
            share: r.health.quality.share(),
        })
        .collect();
    if moved.is_empty() {
        return None;
    }
    Some(Box::new(ReorderRecord {
        demoted: moved,
        order: ids(routes, tried),
    }))
}

/// A 64-bit hash of `seed` and the route id.
pub(crate) fn mix(seed: u64, route: &signalbox_core::RouteId) -> u64 {
    splitmix(seed ^ fnv1a(route.as_str().as_bytes()))
}

/// FNV-1a: stable across processes and releases (unlike `DefaultHasher`),
/// which stickiness across replicas needs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Maps a hash to [0, 1).
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;
