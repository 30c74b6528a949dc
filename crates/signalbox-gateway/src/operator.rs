//! Owns the operator actions the gateway applies around dispatch (the rest
//! are dispatch's: route health reads drains and forced breakers, the
//! failover walk reads escalation triggers, tools switches and pins):
//!
//! - a **fail-closed** switch for the request's alias or intent turns its
//!   decision fail-closed, so the existing fail-closed path runs (503
//!   `fail_closed`, no fallback, no degradation step);
//! - a **throttle** on the request's tenant is counted in the shared limit
//!   store under the action's own key, so every replica counts the same
//!   minute: past it, 429 `tenant_limit` with `retry-after`;
//! - a **throttle** on a route, counted the same way when a round is about
//!   to offer the route a request: past it, the route is skipped (kind
//!   `operator`, naming the action) and the next one serves.
//!
//! Every question is asked of the store's snapshot, one lock-free load per
//! request; while no action is in force nothing else happens.

use std::sync::Arc;

use signalbox_config::FailureMode;
use signalbox_core::operator::{OperatorAction, Target};
use signalbox_core::{RouteIdx, SkipRecord};
use signalbox_dispatch::Eligible;
use signalbox_policy::{Decision, Signals};
use signalbox_state::{ActionSet, LimitStore, Limits, unix_ms};

use crate::AppState;
use crate::ctx::RequestCtx;
use crate::respond::ApiError;
use crate::runtime::Runtime;

/// The actions in force, when there are any (the common case answers
/// `None` after one load).
pub(crate) fn in_force(state: &AppState) -> Option<Arc<ActionSet>> {
    let set = state.breakers.actions.guard();
    (!set.is_empty()).then(|| Arc::clone(&*set))
}

/// Applies the fail-closed switch and the tenant's throttles to a decided
/// request; the decision to run, or the 429 a throttle answers.
pub(crate) async fn admit(
    ctx: &mut RequestCtx,
    signals: &Signals,
    mut decision: Decision,
) -> Result<Decision, ApiError> {
    let Some(ops) = in_force(&ctx.state) else {
        return Ok(decision);
    };
    let now = unix_ms();
    if let Some(a) = ops.fail_closed(decision.alias.as_str(), &signals.intent, now) {
        decision.failure_mode = FailureMode::FailClosed;
        ctx.failure_mode = Some(FailureMode::FailClosed);
        note(&mut ctx.actions, a);
    }
    let tenant = Target::Tenant(ctx.tenant_id().to_owned());
    let tokens = signals.prompt_tokens + signals.max_tokens.unwrap_or(0);
    for (a, rpm, tpm) in ops.throttles(&tenant, now) {
        note(&mut ctx.actions, a);
        if let Err(e) = count(ctx.state.limits.as_ref(), a, rpm, tpm, tokens).await {
            return Err(ApiError::TenantLimit {
                limit: e.limit,
                value: e.value,
                retry_after_secs: e.retry_after.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
    }
    Ok(decision)
}

/// Counts one request against a throttle; a store that cannot answer
/// admits (throttles fail open, like tenant limits).
async fn count(
    limits: &dyn LimitStore,
    action: &OperatorAction,
    rpm: Option<u32>,
    tpm: Option<u32>,
    tokens: u64,
) -> Result<(), signalbox_state::LimitExceeded> {
    let l = Limits {
        concurrency: None,
        requests_per_minute: rpm,
        tokens_per_minute: tpm.map(u64::from),
    };
    let key = format!("operator\0{}", action.id);
    match limits.acquire(&key, l, tokens).await {
        Ok(Ok(_)) | Err(_) => Ok(()),
        Ok(Err(e)) => Err(e),
    }
}

/// A round's candidates under the route throttles in force: each
/// throttled route is counted when it is the next one the round would
/// offer the request, and skipped past its limit; counting stops at the
/// first route admitted (the ones after it are only reached if it fails).
pub(crate) async fn throttle_routes(
    state: &AppState,
    runtime: &Runtime,
    tokens: u64,
    candidates: Vec<RouteIdx>,
) -> Eligible {
    let Some(ops) = in_force(state) else {
        return Eligible {
            candidates,
            skipped: Vec::new(),
        };
    };
    let mut out = Eligible {
        candidates: Vec::with_capacity(candidates.len()),
        skipped: Vec::new(),
    };
    let mut admitted = false;
    for idx in candidates {
        let throttled = match runtime.routes.get(idx) {
            Some(route) if !admitted => {
                let target = Target::Route(route.id.to_string());
                over_limit(&ops, &target, state, tokens).await
            }
            _ => None,
        };
        match throttled {
            Some(a) => out.skipped.push(SkipRecord::operator(
                runtime.routes.get(idx).map_or("-", |r| r.id.as_str()),
                &a,
            )),
            None => {
                admitted = true;
                out.candidates.push(idx);
            }
        }
    }
    out
}

/// The first throttle on `target` whose limit this request would pass.
async fn over_limit(
    ops: &ActionSet,
    target: &Target,
    state: &AppState,
    tokens: u64,
) -> Option<OperatorAction> {
    for (a, rpm, tpm) in ops.throttles(target, unix_ms()) {
        if count(state.limits.as_ref(), a, rpm, tpm, tokens)
            .await
            .is_err()
        {
            return Some(a.clone());
        }
    }
    None
}

/// Notes an action that applied to the request (once).
fn note(actions: &mut Vec<String>, a: &OperatorAction) {
    if !actions.contains(&a.id) {
        actions.push(a.id.clone());
    }
}
