//! Owns the gateway's side of failover: it hands one request's rounds to
//! `signalbox_dispatch::run` (rounds, the degrade walk, the posture floor
//! and the attempt loop live there) with what only the gateway knows — the
//! runtime's route table and policy, the session memory, the request's
//! headers and trace context — and prepares each round's bodies
//! (`round.rs`: prompt variants, privacy boundaries). It returns what the
//! pipeline reports, with the token table that restores the answer.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use signalbox_config::DegradeStep;
use signalbox_core::headers::IDEMPOTENCY_KEY;
use signalbox_core::{AttemptRecord, ChatRequest, SkipRecord};
use signalbox_dispatch::{Failover, Served, fnv1a};
use signalbox_policy::{Decision, Signals};
use tokio::time::Instant;

pub(crate) use signalbox_dispatch::Ended;

use crate::AppState;
use crate::prompt::PromptUse;
use crate::round::Rounds;
use crate::runtime::Runtime;

/// What one request's failover needs from the pipeline.
pub(crate) struct Context<'a> {
    pub state: &'a Arc<AppState>,
    pub runtime: &'a Arc<Runtime>,
    pub headers: &'a HeaderMap,
    pub request_id: &'a str,
    pub request_id_header: &'a HeaderValue,
    pub started: Instant,
    pub tenant_id: &'a str,
    pub tenant_weight: f64,
    /// Why each round stays on its first route (fail-closed, `degrade:
    /// never`, no fallback step), if so.
    pub fail_closed: Option<&'static str>,
    /// Whether the rule's declared steps may run: false for fail-closed
    /// flows and `degrade: never`, true without a fallback step (docs/resilience.md).
    pub steps_allowed: bool,
    /// The registered prompt the request uses, if any.
    pub prompt: Option<&'a PromptUse>,
    /// `traceparent` naming the gateway's span, for every provider call.
    pub traceparent: Option<&'a HeaderValue>,
    /// The caller's `tracestate`, passed on with it.
    pub tracestate: Option<&'a HeaderValue>,
}

/// Everything the pipeline reports about the request's failover.
pub(crate) struct Outcome {
    pub result: Result<Served, Ended>,
    /// Every attempt of every round, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Every route skipped for its health, in order.
    pub skipped: Vec<SkipRecord>,
    /// Degradation steps taken, in order.
    pub degraded: Vec<DegradeStep>,
    pub at_most_once: bool,
    /// Routes of the last round the policy excluded, with why.
    pub excluded: Vec<String>,
    /// What the privacy boundaries found and did (counts only), if any applied.
    pub privacy_report: Option<serde_json::Value>,
    /// The token table of the serving route's zone, to restore the answer.
    pub restore_table: Option<Arc<signalbox_privacy::TokenTable>>,
}

/// Runs the rounds. `decision` is the first round's decision (its refusal,
/// if any, is only final when no degradation step finds a route).
pub(crate) async fn run(
    ctx: &Context<'_>,
    req: ChatRequest,
    signals: Signals,
    decision: Decision,
) -> Outcome {
    let rt = ctx.runtime;
    // Retries of one idempotent request draw the same jitter and sampling.
    let seed_source = ctx
        .headers
        .get(IDEMPOTENCY_KEY)
        .map_or(ctx.request_id.as_bytes(), |v| v.as_bytes());
    let failover = Failover {
        policy: &rt.policy,
        routes: &rt.routes,
        budget: &rt.retry_budget,
        headers: ctx.headers,
        affinity: &ctx.state.affinity,
        seed: fnv1a(seed_source),
        started: ctx.started,
        tenant: ctx.tenant_id,
        tenant_weight: ctx.tenant_weight,
        request_id: ctx.request_id,
        fail_closed: ctx.fail_closed.is_some(),
        steps_allowed: ctx.steps_allowed,
        call: signalbox_providers::CallContext {
            request_id: Some(ctx.request_id_header),
            traceparent: ctx.traceparent,
            tracestate: ctx.tracestate,
        },
    };
    let rounds = Rounds { ctx };
    let out = signalbox_dispatch::run(&failover, &rounds, req, signals, decision).await;
    let restore_table = match (&out.result, &out.round) {
        (Ok(served), Some(round)) => round.table_for(served.route),
        _ => None,
    };
    Outcome {
        result: out.result,
        attempts: out.attempts,
        skipped: out.skipped,
        degraded: out.degraded,
        at_most_once: out.at_most_once,
        excluded: out.excluded,
        privacy_report: out.privacy_report,
        restore_table,
    }
}
