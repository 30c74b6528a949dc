//! The request pipeline for `POST /v1/chat/completions`,
//! `POST /v1/messages`, `POST /v1/responses` and `POST /v1/embeddings`: one context per request ([`RequestCtx`]), a list
//! of stages that fill it in, and one `finish` that always runs. The
//! endpoint only names the client's wire format: the body is read in it,
//! and the answer, its stream events and every error are written in it
//! (`finish` and `respond/`). In order:
//!
//! 1. authenticate — API key → tenant (401 without a valid key, unless anonymous access is on);
//! 2. read — the bounded body (413, 408);
//! 3. idempotency — claim the `Idempotency-Key`, or replay an earlier answer;
//! 4. parse — validate the body in the client's format (4xx naming the field), resolve a
//!    registered prompt;
//! 5. signals — tenant, headers (which may only narrow the tenant's rights), body features, token estimate;
//! 6. decide — rules, hard constraints, objectives → ranked candidates, or a refusal;
//! 7. limits — the tenant's budget, then its concurrency and rate limits (429);
//! 8. failover — attempts in order, failover and degradation rounds, stream commit point
//!    (`pipeline/upstream.rs`), then the answer as the reply: JSON or SSE;
//! 9. finish — always runs: `x-signalbox-*` headers, metrics, span attributes and the
//!    decision record, all from the context (for streams the record is completed
//!    when the stream ends; a dropped handler's context records a 499).

mod upstream;

#[cfg(test)]
mod size_tests;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use signalbox_config::{DegradeStep, FailureMode, TenantConfig, TenantLimits};
use signalbox_core::metric_names as m;
use signalbox_core::{ChatRequest, WireFormat};
use signalbox_dispatch::Decided;
use signalbox_policy::{Decision, Observations, Signals};
use signalbox_state::{LimitPermit, Limits};
use tracing::Instrument;

use crate::AppState;
use crate::budget::StreamCharge;
use crate::ctx::{Idempotency, RequestCtx};
use crate::finish::{Reply, finish};
use crate::idempotency::{self, Claimed};
use crate::respond::ApiError;
use crate::runtime::Runtime;

/// Handles one chat completion request end to end.
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, body, WireFormat::OpenAi).await
}

/// Handles one request whose body is in the `client` wire format; the
/// response is written in it.
pub(crate) async fn serve(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    client: WireFormat,
) -> Response {
    let _in_flight = InFlight::enter(&state);
    let mut ctx = RequestCtx::new(state, &headers, client);
    let span = ctx.span.clone();
    let result = stages(&mut ctx, &headers, body).instrument(span).await;
    finish(&mut ctx, result)
}

/// The stages, in order; each reads and fills in the context.
async fn stages(ctx: &mut RequestCtx, headers: &HeaderMap, body: Body) -> Result<Reply, ApiError> {
    let mut admitted = match admit(ctx, headers, body).await? {
        Admission::Replay(replay) => return Ok(Reply::Replay(replay)),
        Admission::Admitted(admitted) => admitted,
    };
    let (outcome, no_fallback) = upstream::failover(ctx, headers, &mut admitted.decided).await;
    let settled = upstream::settle(ctx, outcome, no_fallback);
    if let Some(canary) = admitted.canary {
        crate::canary::settled(ctx, *canary, settled.as_ref().ok().map(|(s, _)| s));
    }
    let (served, restore) = settled?;
    let reply = upstream::respond(ctx, served, restore, admitted.charge);
    if let (Some(job), Reply::Json(body, format)) = (admitted.shadow, &reply) {
        crate::shadow::launch(ctx, *job, body, *format);
    }
    Ok(reply)
}

/// What the stages before failover decided: an earlier answer to replay,
/// or a request admitted to failover.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per request and unpacked at once; a box would cost an allocation"
)]
enum Admission {
    Replay(Response),
    Admitted(Admitted),
}

/// A request admitted to failover, with what is settled after it.
///
/// Built by its own `async fn`, so the parsed body, signals and decision
/// are kept once while the request waits on its upstream, not beside the
/// copies the earlier stages' borrows pinned in the same future.
struct Admitted {
    decided: Decided,
    /// Boxed, as rare: most requests are in no canary and shadowed by none.
    canary: Option<Box<crate::canary::Assigned>>,
    shadow: Option<Box<crate::shadow::Job>>,
    charge: StreamCharge,
    /// The tenant's concurrency slot, held until the reply is made.
    _permit: Option<LimitPermit>,
}

/// Stages 1–7: authenticate, read, idempotency, parse, signals, decide
/// (with a pin and a canary's arm), limits and the operator's admission;
/// then the shadow copy and the stream's continuation are chosen.
async fn admit(
    ctx: &mut RequestCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Admission, ApiError> {
    let (tenant, anonymous) = authenticate(ctx, headers)?;
    let bytes = read(ctx, headers, body).await?;
    let request = idempotency::Request {
        body: &bytes,
        format: ctx.client,
    };
    if let Some(replay) = claim_key(ctx, headers, request).await? {
        return Ok(Admission::Replay(replay));
    }
    let (req, prompt_canary) = parse(ctx, headers, &bytes)?;
    let signals = signalbox_policy::extract(&ctx.runtime.policy, tenant, anonymous, headers, &req)?;
    let mut decision = decide(ctx, headers, &req, &signals)?;
    // A pinned route (`x-signalbox-pin-route`) narrows the candidates to it.
    crate::pin::apply(&ctx.runtime, headers, &signals, &mut decision)?;
    // Canary rollouts: a prompt canary chose the version already; a route
    // canary's arm leaves the other arm's route out.
    let canary = match prompt_canary {
        Some(c) => Some(c),
        None if ctx.runtime.canaries.is_empty() => None,
        None => {
            let key = canary_key(ctx, headers);
            crate::canary::assign(&ctx.state, &ctx.runtime, key, &req, &mut decision)
        }
    };
    let permit = limits(ctx, &signals).await?;
    // Operator actions: a fail-closed switch, the tenant's throttles.
    let decision = crate::operator::admit(ctx, &signals, decision).await?;
    // Shadow traffic: chosen before failover takes the request, sent once
    // the served answer is decided.
    let shadow = crate::shadow::pick(ctx, headers, &req, &signals, &decision);
    let charge = StreamCharge {
        tenant,
        prompt_tokens: signals.prompt_tokens,
    };
    ctx.continuation =
        crate::continuation::Continuation::arm(ctx, headers, &req, &decision, &signals.intent);
    Ok(Admission::Admitted(Admitted {
        decided: Decided {
            req,
            signals,
            decision,
        },
        canary: canary.map(Box::new),
        shadow: shadow.map(Box::new),
        charge,
        _permit: permit,
    }))
}

/// The tenant the API key names, and whether the caller is anonymous.
fn authenticate(ctx: &mut RequestCtx, headers: &HeaderMap) -> Result<(usize, bool), ApiError> {
    let (tenant, anonymous) = signalbox_policy::authenticate(&ctx.runtime.policy, headers)?;
    ctx.tenant = Some(tenant);
    Ok((tenant, anonymous))
}

/// The body, bounded in size and time.
async fn read(ctx: &RequestCtx, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let server = &ctx.runtime.config.server;
    crate::ingress::read_body(
        headers,
        body,
        server.max_body_bytes,
        server.body_read_timeout,
    )
    .await
    .inspect_err(|e| count_body_timeout(&ctx.state, e))
}

/// Claims the `Idempotency-Key`, if one was sent; an earlier answer to
/// replay ends the pipeline here.
async fn claim_key(
    ctx: &mut RequestCtx,
    headers: &HeaderMap,
    request: idempotency::Request<'_>,
) -> Result<Option<Response>, ApiError> {
    let cfg = &ctx.runtime.config;
    let claimed = idempotency::claim(
        &ctx.state.idempotency,
        ctx.tenant_id(),
        headers,
        request,
        cfg.resilience.retry.deadline,
        cfg.resilience.idempotency.max_response_bytes,
    )
    .await?;
    let (used, replay) = match claimed {
        Claimed::None => return Ok(None),
        Claimed::Replay(resp) => (Idempotency::Replayed, Some(resp)),
        Claimed::Owner(claim) => {
            ctx.claim = Some(claim);
            (Idempotency::Executed, None)
        }
    };
    ctx.idempotency = Some(used);
    ctx.state
        .telemetry
        .count(m::IDEMPOTENT_TOTAL, &[("result", used.label())]);
    Ok(replay)
}

/// The key that puts a request in a canary arm: its session
/// (`x-signalbox-session`, the stickiness key), else the gateway's own
/// request id (never the caller's, which a client may repeat).
fn canary_key<'a>(ctx: &'a RequestCtx, headers: &'a HeaderMap) -> &'a str {
    headers
        .get(signalbox_core::headers::SESSION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&ctx.ids.gateway)
}

/// The validated request, read in the client's format, with a registered
/// prompt rendered into it (a prompt canary's arm picks the version of a
/// reference that names none).
fn parse(
    ctx: &mut RequestCtx,
    headers: &HeaderMap,
    bytes: &Bytes,
) -> Result<(ChatRequest, Option<crate::canary::Assigned>), ApiError> {
    let req = match ctx.client {
        WireFormat::OpenAi => ChatRequest::parse(bytes)?,
        WireFormat::Anthropic => crate::anthropic::parse(bytes, headers)?,
        WireFormat::Responses => crate::responses::parse(bytes)?,
        WireFormat::Completions => crate::responses::parse_completions(bytes)?,
        WireFormat::Embeddings => crate::embeddings::parse(bytes)?,
    };
    let mut canary = None;
    let (req, prompt) = crate::prompt::take(&ctx.runtime.config, headers, req, &mut |p, req| {
        let key = canary_key(ctx, headers);
        let (version, arm) = crate::canary::prompt_version(&ctx.state, &ctx.runtime, key, req, p)?;
        canary = Some(arm);
        Some(version)
    })?;
    ctx.prompt = prompt;
    ctx.sampling = crate::trace::genai::Sampling::of(&ctx.span, &req);
    Ok((req, canary))
}

/// The policy's decision; a refusal ends the pipeline unless the rule
/// declares steps that may still find a route.
fn decide(
    ctx: &mut RequestCtx,
    headers: &HeaderMap,
    req: &ChatRequest,
    signals: &Signals,
) -> Result<Decision, ApiError> {
    let observations = RouteObservations(&ctx.runtime);
    let decision = signalbox_policy::decide(&ctx.runtime.policy, signals, headers, &observations);
    ctx.alias = Some(decision.alias.clone());
    ctx.failure_mode = Some(decision.failure_mode);
    ctx.stream = signals.stream;
    // Read only for streams (its only use): no map lookup on the JSON path.
    ctx.stream_usage = signals.stream && req.wants_stream_usage();
    let log_content = ctx.tenant_config().is_some_and(|t| t.log_content);
    if let Some(log) = ctx.log.as_mut() {
        log.evidence = Some(Box::new((signals.clone(), decision.clone())));
        if log_content {
            // The conversation, or an embeddings request's inputs.
            let body = req.body();
            let request = body.get("messages").or_else(|| body.get("input"));
            log.content = Some(serde_json::json!({ "request": request }));
        }
    }
    let may_degrade_refusal = decision.failure_mode == FailureMode::Degrade
        && decision
            .degrade
            .iter()
            .any(|s| *s != DegradeStep::FallbackRoute);
    match &decision.refusal {
        Some(refusal) if !may_degrade_refusal => Err(ApiError::Policy(refusal.clone())),
        _ => Ok(decision),
    }
}

/// The tenant's budget first (a refused request takes nothing from the
/// rate limits), then its concurrency and rate limits.
async fn limits(ctx: &RequestCtx, signals: &Signals) -> Result<Option<LimitPermit>, ApiError> {
    let Some(tenant) = ctx.tenant_config() else {
        return Ok(None);
    };
    crate::budget::check(&ctx.state, tenant).await?;
    acquire_limits(&ctx.state, tenant, signals).await
}

/// Route latency estimates for the ranking, read from route health.
pub(crate) struct RouteObservations<'a>(pub(crate) &'a Runtime);

impl Observations for RouteObservations<'_> {
    fn latency(&self, route: signalbox_core::RouteIdx) -> Option<std::time::Duration> {
        self.0.routes.get(route).and_then(|r| r.health.latency())
    }
}

/// Applies the tenant's concurrency and rate limits (429 with `retry-after`).
async fn acquire_limits(
    state: &AppState,
    tenant: &TenantConfig,
    signals: &Signals,
) -> Result<Option<LimitPermit>, ApiError> {
    let l = tenant.limits;
    if l == TenantLimits::default() {
        return Ok(None);
    }
    let limits = Limits {
        concurrency: l.concurrency,
        requests_per_minute: l.requests_per_minute,
        tokens_per_minute: l.tokens_per_minute,
    };
    let tokens = signals.prompt_tokens + signals.max_tokens.unwrap_or(0);
    match state.limits.acquire(&tenant.id, limits, tokens).await {
        Ok(Ok(permit)) => Ok(Some(permit)),
        Ok(Err(e)) => {
            state.telemetry.count(
                m::TENANT_LIMITED_TOTAL,
                &[("tenant", tenant.id.as_str()), ("limit", e.limit)],
            );
            Err(ApiError::TenantLimit {
                limit: e.limit,
                value: e.value,
                retry_after_secs: e.retry_after.as_secs_f64().ceil().max(1.0) as u64,
            })
        }
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// Counts a body that did not arrive in time with the connection-level
/// client timeouts (`signalbox_client_timeouts_total{phase="body"}`).
pub(crate) fn count_body_timeout(state: &AppState, e: &ApiError) {
    if matches!(e, ApiError::BodyTimeout { .. }) {
        state
            .telemetry
            .client_timeout(crate::telemetry::ClientTimeout::Body)
            .increment(1);
    }
}

/// Keeps the in-flight gauge true however the handler ends (including when
/// the caller disconnects and the handler future is dropped).
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter(state: &AppState) -> Self {
        state.telemetry.in_flight.increment(1.0);
        Self(state.telemetry.in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
