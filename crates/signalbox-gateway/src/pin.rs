//! Owns route pinning (`x-signalbox-pin-route: ROUTE`): a caller, typically
//! `signalbox eval run --route`, asks that one route of the alias serve its
//! request, so that a route can be evaluated through the gateway with
//! everything a served request gets (tenant rights, residency, posture,
//! privacy boundary, records). Like `x-signalbox-region`, the header may
//! only narrow the policy's decision: the route must be one of the
//! decision's eligible candidates, else the request is refused naming why
//! (the route's failed constraints, or that the alias has no such route).
//! The pinned route is the only candidate: its failure is reported as its
//! own, never hidden by a fallback.
//!
//! A request without the header pays one header lookup (by a prebuilt
//! name: no parsing of the name per request).

use axum::http::{HeaderMap, HeaderName};
use signalbox_core::headers::PIN_ROUTE;
use signalbox_policy::{Decision, PolicyError, Signals};

use crate::runtime::Runtime;

/// Narrows `decision` to the pinned route, if the request pins one.
pub(crate) fn apply(
    rt: &Runtime,
    headers: &HeaderMap,
    signals: &Signals,
    decision: &mut Decision,
) -> Result<(), PolicyError> {
    static NAME: HeaderName = HeaderName::from_static(PIN_ROUTE);
    let Some(value) = headers.get(&NAME) else {
        return Ok(());
    };
    let bad = |problem: String| PolicyError::BadHeader {
        header: PIN_ROUTE,
        problem,
    };
    let id = value
        .to_str()
        .map_err(|_| bad("not a route id".into()))?
        .trim();
    let Some(idx) = rt.routes.index(id) else {
        return Err(bad(format!("unknown route `{id}`")));
    };
    if decision.candidates.contains(&idx) {
        decision.candidates.retain(|&c| c == idx);
        return Ok(());
    }
    // Why not: a constraint of the request excludes it, or the alias
    // (or the matched rule) never names it.
    let prefix = format!("{id}:");
    let why = decision
        .excluded(&rt.policy, signals)
        .into_iter()
        .find(|reason| reason.starts_with(&prefix));
    Err(PolicyError::Forbidden(match why {
        Some(reason) => format!("route {id} may not serve this request under the policy: {reason}"),
        None => format!(
            "route {id} is not a candidate of `{}` for this request",
            decision.alias
        ),
    }))
}
