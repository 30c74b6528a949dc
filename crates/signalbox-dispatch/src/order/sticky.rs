//! Owns the session's sticky route and what the quality loop's verdicts do
//! to it. The sticky group is the leading equally ranked candidates that
//! are healthy (not slow) and not closed for the request's intent; a route
//! the loop closed (for every request or for this intent) is never kept by
//! stickiness. Among the group, weighted rendezvous hashing on the session
//! key picks the route, a warned route's weight cut to its share (the
//! route's `warn-weight`, times the intent's when it is warned for the
//! request's intent too). A remembered route (the session had to leave its
//! rendezvous route once) wins while it is in the group, but a warned one
//! keeps the session only with its share's probability, decided by a hash
//! of the session, so a session is moved once and stays moved while the
//! warning holds, then comes back. A session the quality loop moved off
//! the route it would have had is named, for the record (built only then).
//!
//! Only the group is looked at: the hard constraints that made the
//! candidates are never relaxed. The common path (no route warned) costs,
//! per group member, the atomic loads the quality gate answers from; the
//! rendezvous runs a second time, unweighted, only when a member is warned.

use signalbox_core::{DemotionKind, DemotionRecord, RouteIdx};

use super::{StickyInput, fnv1a, mix, unit};
use crate::health::Admission;
use crate::{Route, RouteTable};

/// Where stickiness puts the session.
#[derive(Debug)]
pub(super) struct StickyChoice {
    /// The session's route for this request.
    pub route: RouteIdx,
    /// The route the quality loop moved the session off, and why (`None`
    /// for almost every request).
    pub moved: Option<DemotionRecord>,
}

/// Salts the hash that decides whether a warned remembered route keeps the
/// session, so it is independent of the rendezvous hash.
const KEEP_SALT: u64 = 0x5e55_10f5_71c4_e2d1;

/// Chooses the session's route among the sticky group of `candidates`.
pub(super) fn choose<X>(
    routes: &RouteTable<X>,
    candidates: &[RouteIdx],
    s: StickyInput<'_>,
) -> Option<StickyChoice> {
    let group: Vec<(RouteIdx, f64)> = candidates
        .iter()
        .take(s.group.max(1))
        .filter_map(|&i| member_share(routes.get(i)?, s.intent).map(|share| (i, share)))
        .collect();
    let session_hash = fnv1a(s.session.as_bytes());
    let mut lost = None;
    if let Some(&(r, share)) = s
        .remembered
        .and_then(|r| group.iter().find(|(i, _)| *i == r))
    {
        let alone = group.len() == 1;
        if share >= 1.0 || alone || keeps(routes, r, session_hash, share) {
            return Some(StickyChoice {
                route: r,
                moved: None,
            });
        }
        lost = Some((r, share));
    }
    let route = rendezvous(routes, &group, session_hash, lost.map(|(r, _)| r), true)?;
    if lost.is_none() && group.iter().any(|&(_, share)| share < 1.0) {
        // Where the session would be at full weights: a warned route it
        // left (weighted rendezvous only ever moves sessions off a route
        // whose weight was cut).
        lost = rendezvous(routes, &group, session_hash, None, false)
            .filter(|&home| home != route)
            .and_then(|home| group.iter().find(|(i, _)| *i == home).copied());
    }
    let moved = lost.and_then(|(r, share)| demotion(routes.get(r)?, s.intent, share));
    Some(StickyChoice { route, moved })
}

/// The share of its sessions `r` keeps for a request of `intent`, or `None`
/// when it is not in the group: unhealthy, slow, or closed for the intent.
fn member_share<X>(r: &Route<X>, intent: &str) -> Option<f64> {
    if !matches!(r.health.peek(), Admission::Allowed { slow: false, .. }) {
        return None;
    }
    let q = &r.health.quality;
    if intent.is_empty() {
        return Some(q.share());
    }
    if q.closed_for(intent).is_some() {
        return None;
    }
    Some(q.share_for(intent))
}

/// Whether a warned remembered route keeps the session: for `share` of the
/// sessions, by a hash of the session and the route (stable per session).
fn keeps<X>(routes: &RouteTable<X>, r: RouteIdx, session_hash: u64, share: f64) -> bool {
    routes
        .get(r)
        .is_some_and(|route| unit(mix(session_hash ^ KEEP_SALT, &route.id)) < share)
}

/// Weighted rendezvous over `group` without `except`: the largest
/// `w / -ln(u)` wins, `w` the route's weight, cut to its share when
/// `weighted`.
fn rendezvous<X>(
    routes: &RouteTable<X>,
    group: &[(RouteIdx, f64)],
    session_hash: u64,
    except: Option<RouteIdx>,
    weighted: bool,
) -> Option<RouteIdx> {
    group
        .iter()
        .filter(|&&(i, _)| Some(i) != except)
        .filter_map(|&(i, share)| routes.get(i).map(|r| (i, r, share)))
        .map(|(i, r, share)| {
            let u = unit(mix(session_hash, &r.id)).max(f64::MIN_POSITIVE);
            let w = if weighted { r.weight * share } else { r.weight };
            (i, w / -u.ln())
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Why the session left `r`: its warnings (the route's, the intent's).
fn demotion<X>(r: &Route<X>, intent: &str, share: f64) -> Option<DemotionRecord> {
    let q = &r.health.quality;
    let for_intent = (!intent.is_empty())
        .then(|| q.warning_for(intent))
        .flatten();
    let reason = match (q.warning(), for_intent) {
        (Some(route), Some(intent)) => format!("{route}; {intent}"),
        (Some(why), None) | (None, Some(why)) => why,
        (None, None) => return None,
    };
    Some(DemotionRecord {
        route: r.id.to_string(),
        kind: DemotionKind::SessionQualityWarning,
        reason,
        share,
    })
}

#[cfg(test)]
mod tests;
