//! Owns the gateway's side of failover: it hands one request's rounds to
//! `signalbox_dispatch::run` (rounds, the degrade walk, the posture floor
//! and the attempt loop live there) with what only the gateway knows — the
//! runtime's route table and policy, the session memory, the request's
//! headers and trace context — and prepares each round's bodies
//! (`round.rs`: prompt variants, privacy boundaries). It returns what the
//! pipeline reports, with the token table that restores the answer.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use signalbox_config::{DegradeStep, FailureMode};
use signalbox_core::headers::{DEGRADE, IDEMPOTENCY_KEY};
use signalbox_dispatch::{Decided, Failover, fnv1a};
use signalbox_policy::Decision;
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
    /// never`, no fallback step), if so; it also says whether the rule's
    /// other declared steps may run (docs/resilience.md).
    pub no_fallback: Option<NoFallback>,
    /// The registered prompt the request uses, if any.
    pub prompt: Option<&'a PromptUse>,
    /// `traceparent` naming the gateway's span, for every provider call.
    pub traceparent: Option<&'a HeaderValue>,
    /// The caller's `tracestate`, passed on with it.
    pub tracestate: Option<&'a HeaderValue>,
}

/// Why a flow stays on its first route, so no fallback is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFallback {
    /// The rule's `failure-mode` is `fail-closed`.
    FailClosedFlow,
    /// The caller sent `x-signalbox-degrade: never`.
    CallerRefused,
    /// The policy declares no `fallback-route` step (its other declared
    /// steps may still run).
    NoFallbackStep,
}

impl NoFallback {
    /// Fail-closed flows and callers that refuse degradation stay on the
    /// policy's first route and take no step; policies without a fallback
    /// step stay on each round's first route but still take their other
    /// declared steps (`reduced-context`, `smaller-model`, …).
    pub(crate) fn of(decision: &Decision, headers: &HeaderMap) -> Option<Self> {
        if decision.failure_mode == FailureMode::FailClosed {
            Some(Self::FailClosedFlow)
        } else if headers
            .get(DEGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"never"))
        {
            Some(Self::CallerRefused)
        } else {
            (!decision.degrade.contains(&DegradeStep::FallbackRoute))
                .then_some(Self::NoFallbackStep)
        }
    }

    /// Why, in words, for the error message.
    pub fn describe(self) -> &'static str {
        match self {
            Self::FailClosedFlow => "this flow is fail-closed",
            Self::CallerRefused => "the caller sent x-signalbox-degrade: never",
            Self::NoFallbackStep => "the policy declares no fallback-route step",
        }
    }

    /// Whether the rule's other declared steps are off too (fail-closed
    /// flows and `degrade: never` take no step at all).
    pub fn refuses_steps(self) -> bool {
        !matches!(self, Self::NoFallbackStep)
    }
}

/// Everything the pipeline reports about the request's failover: dispatch's
/// outcome, keeping of the serving round the token table of its zone, to
/// restore the answer.
pub(crate) type Outcome = signalbox_dispatch::Outcome<Arc<signalbox_privacy::TokenTable>>;

/// Runs the rounds for `decided` (its decision the first round's; its
/// refusal, if any, only final when no degradation step finds a route).
pub(crate) async fn run(ctx: &Context<'_>, decided: &mut Decided) -> Outcome {
    let rt = ctx.runtime;
    // Held (an Arc, not a lock) for the request's failover; `None` while no
    // operator action is in force.
    let operator = crate::operator::in_force(ctx.state);
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
        fail_closed: ctx.no_fallback.is_some(),
        steps_allowed: !ctx.no_fallback.is_some_and(NoFallback::refuses_steps),
        call: signalbox_providers::CallContext {
            request_id: Some(ctx.request_id_header),
            traceparent: ctx.traceparent,
            tracestate: ctx.tracestate,
        },
        operator: operator.as_deref(),
    };
    let rounds = Rounds {
        ctx,
        space: crate::embeddings::Space::default(),
    };
    signalbox_dispatch::run(&failover, &rounds, decided)
        .await
        .map_round(|round, served| round.table_for(served.route))
}
