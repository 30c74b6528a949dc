//! Owns what operator actions do to one request's failover (the actions
//! that act on a route itself — drain, forced breakers — are route health's,
//! `health.rs`): an escalation trigger for the request's intent ends it on
//! the escalation path; tools disabled for its intent or tenant take the
//! `tools-disabled` step before the first round (or, when the flow may not
//! degrade, fail it closed); a pin narrows each round's candidates to the
//! pinned route, and refuses when the policy excludes that route, so a pin
//! never serves a request the policy would not (residency, posture…).

use signalbox_config::DegradeStep;
use signalbox_core::operator::OperatorAction;
use signalbox_core::{RouteIdx, SkipRecord};
use signalbox_policy::{Decision, PolicyError};
use signalbox_state::{ActionSet, unix_ms};

use super::{Decided, Eligible, Ended, Failover, Outcome};
use crate::{Failure, StopReason};

/// Applies the escalation trigger and the tools switch before the first
/// round, rewriting `decided` when tools come off; `false` when an action
/// ended the request (the outcome says how). The actions that applied are
/// noted in `out.actions`.
pub(super) fn before<X, R>(
    f: &Failover<'_, X>,
    ops: &ActionSet,
    out: &mut Outcome<R>,
    may_degrade: bool,
    decided: &mut Decided,
) -> bool {
    let now = unix_ms();
    if let Some(a) = ops.escalation(&decided.signals.intent, now) {
        out.actions.push(a.id.clone());
        out.degraded.push(DegradeStep::HumanEscalation);
        out.result = Err(Ended::Escalated { reason: a.cite() });
        return false;
    }
    let Some(a) = ops.tools_disabled(&decided.signals.intent, f.tenant, now) else {
        return true;
    };
    let Some((stripped, fewer)) = super::degrade::without_tools(&decided.req, &decided.signals)
    else {
        return true;
    };
    out.actions.push(a.id.clone());
    if !may_degrade {
        // The flow forbids degradation: the request fails closed, naming
        // the action, before anything is sent.
        let skipped: Vec<SkipRecord> = decided
            .decision
            .candidates
            .first()
            .and_then(|&c| f.routes.get(c))
            .map(|r| SkipRecord::operator(r.id.to_string(), a))
            .into_iter()
            .collect();
        out.skipped.extend(skipped.iter().cloned());
        out.result = Err(Ended::Failed(refused(skipped)));
        return false;
    }
    out.degraded.push(DegradeStep::ToolsDisabled);
    decided.decision = signalbox_policy::decide(f.policy, &fewer, f.headers, f.routes);
    decided.req = stripped;
    decided.signals = fewer;
    true
}

/// A failure with nothing sent: every route skipped by an action.
fn refused(skipped: Vec<SkipRecord>) -> Failure {
    Failure {
        attempts: Vec::new(),
        skipped,
        rejection: None,
        last_route: None,
        stop: StopReason::Exhausted,
        capacity_refused: false,
        available_in: None,
        reordered: None,
    }
}

/// A round's candidates under the operator's pin of its alias (see
/// [`pinned`]); `None` when the request is refused, the refusal in `out`.
pub(super) fn narrow<X, R>(
    f: &Failover<'_, X>,
    decision: &Decision,
    untried: Vec<RouteIdx>,
    out: &mut Outcome<R>,
) -> Option<Vec<RouteIdx>> {
    let Some(ops) = f.operator else {
        return Some(untried);
    };
    match pinned(f, ops, decision, untried, &mut out.actions) {
        Ok(pinned) => {
            out.skipped.extend(pinned.skipped);
            Some(pinned.candidates)
        }
        Err(refusal) => {
            out.result = Err(Ended::Refused(refusal));
            None
        }
    }
}

/// A round's candidates under a pin of its alias: only the pinned route,
/// the others skipped naming the pin. `Err` when the policy excludes the
/// pinned route for this request (the refusal to return).
fn pinned<X>(
    f: &Failover<'_, X>,
    ops: &ActionSet,
    decision: &Decision,
    candidates: Vec<RouteIdx>,
    actions: &mut Vec<String>,
) -> Result<Eligible, PolicyError> {
    let Some((pin, route)) = ops.pin(decision.alias.as_str(), unix_ms()) else {
        return Ok(Eligible {
            candidates,
            skipped: Vec::new(),
        });
    };
    note(actions, pin);
    let target = f.routes.index(route);
    if target.is_none_or(|t| !decision.candidates.contains(&t)) {
        return Err(PolicyError::NoEligibleRoute {
            alias: decision.alias.to_string(),
            reasons: format!(
                "{} pins it to route {route}, which the policy does not allow for this request \
                 (hard constraints still apply: refused rather than served elsewhere)",
                pin.cite()
            ),
        });
    }
    Ok(Eligible::retain(candidates, |c| {
        (Some(c) != target)
            .then(|| f.routes.get(c))
            .flatten()
            .map(|r| SkipRecord::operator(r.id.to_string(), pin))
    }))
}

/// Notes an action that applied to the request (once).
fn note(actions: &mut Vec<String>, a: &OperatorAction) {
    if !actions.contains(&a.id) {
        actions.push(a.id.clone());
    }
}
