//! The request pipeline for `POST /v1/chat/completions`, in order:
//!
//! 1. authenticate — API key → tenant (401 without a valid key, unless anonymous access is on);
//! 2. ingress — bounded body, parse and validate (4xx naming the field);
//! 3. signals — tenant, headers (which may only narrow the tenant's rights), body features, token estimate;
//! 4. decide — rules, hard constraints, objectives → ranked candidates, or a refusal;
//! 5. dispatch — attempts in order, failover on retryable outcomes, stream commit point;
//! 6. respond — JSON or SSE, forwarded as it arrives;
//! 7. record — always runs: metrics, `x-signalbox-*` headers, and the decision record
//!    (for streams, when the stream ends).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use signalbox_config::{DegradeStep, FailureMode, TenantConfig, TenantLimits};
use signalbox_core::headers::DEGRADE;
use signalbox_core::metric_names as m;
use signalbox_core::{AliasName, AttemptRecord, ChatRequest};
use signalbox_dispatch::{CommittedStream, ServedBody, StreamOutcome};
use signalbox_policy::Observations;
use signalbox_state::{LimitPermit, Limits};
use tokio::time::Instant;
use tracing::Instrument;

use crate::AppState;
use crate::escalation::escalate;
use crate::failover;
use crate::idempotency::{self, Claim, Claimed};
use crate::ingress::{RequestIds, read_body};
use crate::record::{Outcome, RecordBuilder, submit};
use crate::respond::degraded::{mark_first_event, mark_json};
use crate::respond::{ApiError, ResponseMeta};
use crate::runtime::Runtime;
use crate::telemetry::observe;

/// Headers a served response carries: content type (and, for streams, two
/// cache headers) plus the `x-signalbox-*` summary.
const RESPONSE_HEADERS: usize = 13;

/// Handles one chat completion request end to end.
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, Inbound::Body(body)).await
}

/// What an ingress hands the pipeline.
pub(crate) enum Inbound {
    /// An OpenAI body still to be read and parsed.
    Body(Body),
    /// A body another ingress already read and validated (the Anthropic
    /// ingress: its OpenAI view carries the client's own body).
    Parsed {
        /// The client's bytes (idempotency compares these).
        bytes: Bytes,
        /// The validated request.
        request: ChatRequest,
    },
}

/// [`chat_completions`] for any ingress. A served response carries its
/// body's `WireFormat` as an extension.
pub(crate) async fn serve(state: Arc<AppState>, headers: HeaderMap, inbound: Inbound) -> Response {
    let started = Instant::now();
    let runtime = state.runtime.load_full();
    let _in_flight = InFlight::enter(&state);
    let ids = RequestIds::new(&headers);
    let mut meta = ResponseMeta {
        request_id: ids.echo().to_owned(),
        request_id_header: ids.echo_header,
        gateway_request_id: ids.gateway_header,
        policy_version: runtime.version_header.clone(),
        route: None,
        attempts: 0,
        degraded: Vec::new(),
        prompt: None,
        max_tokens_clamped: None,
    };
    // No record work at all when the decision log is off.
    let mut rec = PendingRecord {
        builder: state
            .decision_log
            .as_ref()
            // Keyed by the gateway's id: a caller's `x-request-id` is any
            // caller's to choose, so it must never name (or replace) a record.
            .map(|_| RecordBuilder::start(ids.gateway, ids.caller, &runtime.config.version)),
        state: &state,
        started,
    };
    let mut alias = None;
    let mut claim = None;
    let span = crate::trace::request_span(
        &headers,
        &meta.request_id,
        meta.gateway_request_id.to_str().unwrap_or("-"),
    );
    let result = serve_chat(
        &state,
        &runtime,
        &headers,
        inbound,
        &mut meta,
        &mut alias,
        &mut rec.builder,
        &mut claim,
        started,
    )
    .instrument(span.clone())
    .await;
    let (mut response, outcome, error) = match result {
        Ok(r) => (r, Outcome::Served, None),
        Err(err) => {
            state.telemetry.error(err.metric_label());
            if err.status().is_server_error() {
                tracing::warn!(request_id = %meta.request_id, error = %err, "Request failed.");
            } else {
                tracing::debug!(request_id = %meta.request_id, error = %err, "Request refused.");
            }
            let outcome = match &err {
                ApiError::Upstream { failure, .. } if failure.rejection.is_some() => {
                    Outcome::Rejected
                }
                ApiError::Upstream { .. } => Outcome::Failed,
                _ => Outcome::Refused,
            };
            let message = err.to_string();
            (err.into_response(&meta.request_id), outcome, Some(message))
        }
    };
    meta.apply(response.headers_mut());
    if let Some(c) = claim {
        response = c.wrap(response);
    }
    let status = response.status().as_u16();
    // A stream's record is finished when the stream ends; everything else now.
    if let Some(rec) = rec.builder.take() {
        submit(
            state.decision_log.as_ref(),
            rec.finish(outcome, status, error, started.elapsed()),
        );
    }
    let alias_name = alias.as_ref().map_or("-", AliasName::as_str);
    let route_name = meta
        .route
        .as_ref()
        .and_then(|r| r.route.to_str().ok())
        .unwrap_or("-");
    state.telemetry.request_done(alias_name, route_name, status);
    if !span.is_none() {
        span.record("signalbox.alias", alias_name);
        span.record("signalbox.route", route_name);
        if let Some(p) = meta.route.as_ref().and_then(|r| r.provider.to_str().ok()) {
            span.record("signalbox.provider", p);
        }
        span.record("signalbox.attempts", meta.attempts);
        if !meta.degraded.is_empty() {
            span.record("signalbox.degraded", meta.degraded.join(","));
        }
        span.record("http.response.status_code", status);
    }
    if let Some(h) = alias
        .as_ref()
        .and_then(|a| runtime.alias_durations.get(a.as_str()))
    {
        observe(h, started.elapsed());
    }
    response
}

/// Route latency estimates for the ranking, read from route health.
pub(crate) struct RouteObservations<'a>(pub(crate) &'a Runtime);

impl Observations for RouteObservations<'_> {
    fn latency(&self, route: usize) -> Option<std::time::Duration> {
        self.0.routes.get(route).and_then(|r| r.health.latency())
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the pipeline's stage outputs, threaded through once"
)]
async fn serve_chat(
    state: &Arc<AppState>,
    runtime: &Arc<Runtime>,
    headers: &HeaderMap,
    inbound: Inbound,
    meta: &mut ResponseMeta,
    alias: &mut Option<AliasName>,
    rec: &mut Option<RecordBuilder>,
    claim: &mut Option<Claim>,
    started: Instant,
) -> Result<Response, ApiError> {
    let snap = &runtime.policy;
    let cfg = &runtime.config;
    let (tenant, anonymous) = signalbox_policy::authenticate(snap, headers)?;
    if let Some(r) = rec.as_mut() {
        r.tenant(snap, tenant);
    }
    let tenant_cfg = cfg.tenants.get(tenant);
    let tenant_id = tenant_cfg.map_or("-", |t| t.id.as_str());
    let server = &cfg.server;
    let (bytes, parsed) = match inbound {
        Inbound::Body(body) => {
            let bytes = read_body(
                headers,
                body,
                server.max_body_bytes,
                server.body_read_timeout,
            )
            .await
            .inspect_err(|e| count_body_timeout(state, e))?;
            (bytes, None)
        }
        Inbound::Parsed { bytes, request } => (bytes, Some(request)),
    };
    match idempotency::claim(
        &state.idempotency,
        tenant_id,
        headers,
        &bytes,
        cfg.resilience.retry.deadline,
        cfg.resilience.idempotency.max_response_bytes,
    )
    .await?
    {
        Claimed::None => {}
        Claimed::Replay(resp) => {
            state
                .telemetry
                .count(m::IDEMPOTENT_TOTAL, &[("result", "replayed")]);
            if let Some(r) = rec.as_mut() {
                r.idempotency("replayed");
            }
            return Ok(resp);
        }
        Claimed::Owner(c) => {
            state
                .telemetry
                .count(m::IDEMPOTENT_TOTAL, &[("result", "executed")]);
            if let Some(r) = rec.as_mut() {
                r.idempotency("executed");
            }
            *claim = Some(c);
        }
    }
    let req = match parsed {
        Some(req) => req,
        None => ChatRequest::parse(&bytes)?,
    };
    let (req, prompt) = crate::prompt::take(cfg, headers, req)?;
    if let Some(p) = &prompt {
        meta.prompt = HeaderValue::from_str(&p.label).ok();
    }
    let signals = signalbox_policy::extract(snap, tenant, anonymous, headers, &req)?;
    let decision = signalbox_policy::decide(snap, &signals, headers, &RouteObservations(runtime));
    *alias = Some(decision.alias.clone());
    if let Some(r) = rec.as_mut() {
        r.decision(runtime, &signals, &decision);
        r.request_content(req.body());
    }
    // A refusal stands unless the rule declares steps that may find a route.
    let may_degrade_refusal = decision.failure_mode == FailureMode::Degrade
        && decision
            .degrade
            .iter()
            .any(|s| *s != DegradeStep::FallbackRoute);
    if let Some(refusal) = decision.refusal.clone()
        && !may_degrade_refusal
    {
        return Err(ApiError::Policy(refusal));
    }
    // The budget first: a refused request takes nothing from the rate limits.
    let _limit = match tenant_cfg {
        Some(t) => {
            crate::budget::check(state, t).await?;
            acquire_limits(state, t, &signals).await?
        }
        None => None,
    };

    // Fail-closed flows and callers that refuse degradation stay on the
    // policy's first route and take no step; policies without a fallback
    // step stay on each round's first route but still take their other
    // declared steps (`reduced-context`, `smaller-model`, …).
    let refuses_degrading = if decision.failure_mode == FailureMode::FailClosed {
        Some("this flow is fail-closed")
    } else if headers
        .get(DEGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"never"))
    {
        Some("the caller sent x-signalbox-degrade: never")
    } else {
        None
    };
    let fail_closed = refuses_degrading.or_else(|| {
        (!decision.degrade.contains(&DegradeStep::FallbackRoute))
            .then_some("the policy declares no fallback-route step")
    });
    let trace = crate::trace::TraceContext::for_span(&tracing::Span::current(), headers);
    if let Some(r) = rec.as_mut() {
        r.trace(trace.trace_id());
    }
    let traceparent = trace.header();
    let ctx = failover::Context {
        state,
        runtime,
        headers,
        request_id: &meta.request_id,
        request_id_header: &meta.request_id_header,
        started,
        tenant_id,
        tenant_weight: tenant_cfg.map_or(1.0, |t| t.weight),
        fail_closed,
        steps_allowed: refuses_degrading.is_none(),
        prompt: prompt.as_ref(),
        traceparent: traceparent.as_ref(),
        tracestate: trace.state.as_ref(),
    };
    let prompt_tokens = signals.prompt_tokens;
    let outcome = failover::run(&ctx, req, signals, decision).await;
    let served_by = outcome.result.as_ref().ok().map(|s| s.route);
    record_attempts(runtime, &outcome.attempts);
    for s in &outcome.skipped {
        state
            .telemetry
            .count(m::ROUTE_SKIPPED_TOTAL, &[("route", &s.route)]);
    }
    meta.attempts = outcome.attempts.len();
    let degraded = outcome.degraded.clone();
    for step in &degraded {
        state.telemetry.count(m::DEGRADED_TOTAL, &[("step", step)]);
    }
    meta.degraded.clone_from(&degraded);
    if let Some(r) = rec.as_mut() {
        r.attempts(runtime, &outcome.attempts, served_by);
        let sticky = outcome.result.as_ref().ok().and_then(|s| s.sticky);
        r.resilience(
            runtime,
            &outcome.skipped,
            &degraded,
            sticky,
            outcome.at_most_once,
        );
        match &outcome.result {
            Err(failover::Ended::Failed(f)) => r.stopped(f.stop.describe()),
            Ok(served) if !served.notes.is_empty() => r.translation(&served.notes),
            _ => {}
        }
        if let Some(p) = &prompt {
            let variant = outcome
                .result
                .as_ref()
                .ok()
                .and_then(|s| runtime.routes.get(s.route))
                .map(|t| p.variant_name(cfg, t.upstream.kind().family()));
            r.prompt(&p.label, variant);
        }
    }
    let restore_table = outcome.restore_table.clone();
    if let (Some(r), Some(report)) = (rec.as_mut(), &outcome.privacy_report) {
        r.privacy(report.clone());
    }
    let served = match outcome.result {
        Ok(served) => served,
        Err(failover::Ended::Refused(refusal)) => return Err(ApiError::Policy(refusal)),
        Err(failover::Ended::PrivacyBlocked { zone, classes }) => {
            return Err(ApiError::PrivacyBlocked { zone, classes });
        }
        Err(failover::Ended::Escalated { reason }) => {
            let webhook = escalate(
                state,
                runtime,
                &meta.request_id,
                tenant_id,
                &reason,
                &degraded,
            );
            return Err(ApiError::Escalated { reason, webhook });
        }
        Err(failover::Ended::Failed(failure)) => {
            if let Some(why) = failure.stop.describe() {
                let reason = format!("{:?}", failure.stop);
                state
                    .telemetry
                    .count(m::DISPATCH_STOPPED_TOTAL, &[("reason", &reason)]);
                tracing::debug!(request_id = %meta.request_id, why, "Attempt loop stopped early.");
            }
            meta.route = failure
                .last_route
                .and_then(|i| runtime.route_headers.get(i))
                .cloned();
            return Err(ApiError::Upstream {
                failure,
                excluded: outcome.excluded,
                fail_closed: fail_closed.map(String::from),
            });
        }
    };
    meta.route = runtime.route_headers.get(served.route).cloned();
    meta.max_tokens_clamped = served
        .max_tokens_clamped
        .and_then(|c| HeaderValue::from_str(&c.to_string()).ok());
    match served.body {
        ServedBody::Json(json) => {
            let body = match &restore_table {
                Some(table) => {
                    let (body, stats) = crate::privacy::restore_json(json.body, table);
                    crate::privacy::count_restores(&state.telemetry, stats);
                    body
                }
                None => json.body,
            };
            crate::budget::charge(state, runtime, tenant_cfg, served.route, json.usage);
            if let Some(r) = rec.as_mut() {
                r.usage(runtime, json.usage);
                r.response_content(&body);
            }
            let body = if degraded.is_empty() {
                body
            } else {
                mark_json(body, &degraded, &meta.request_id)
            };
            let mut resp = Response::new(Body::from(body));
            resp.extensions_mut().insert(json.format);
            // Sized once for content-type and the x-signalbox-* headers.
            resp.headers_mut().reserve(RESPONSE_HEADERS);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
        ServedBody::Stream(mut stream) => {
            if !degraded.is_empty() {
                let request_id = meta.request_id.clone();
                stream.map_first(|first| mark_first_event(first, &degraded, &request_id));
            }
            let format = stream.format();
            let mut resp = stream_response(
                state,
                runtime,
                *stream,
                meta,
                rec.take(),
                served.route,
                crate::budget::StreamCharge {
                    tenant,
                    prompt_tokens,
                },
                started,
                restore_table,
            );
            resp.extensions_mut().insert(format);
            Ok(resp)
        }
    }
}

/// Applies the tenant's concurrency and rate limits (429 with `retry-after`).
async fn acquire_limits(
    state: &AppState,
    tenant: &TenantConfig,
    signals: &signalbox_policy::Signals,
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

fn record_attempts(runtime: &Runtime, attempts: &[AttemptRecord]) {
    for a in attempts {
        let Some(i) = runtime.routes.iter().position(|r| r.id == a.route) else {
            continue;
        };
        let Some(m) = runtime.route_metrics.get(i) else {
            continue;
        };
        if let Some(c) = m.attempt(a.outcome) {
            c.increment(1);
        }
        observe(&m.upstream_duration, a.elapsed);
    }
}

/// Finishes the record of a request whose handler was dropped because the
/// caller went away before the response head (status 499, as nginx logs it).
struct PendingRecord<'a> {
    builder: Option<RecordBuilder>,
    state: &'a AppState,
    started: Instant,
}

impl Drop for PendingRecord<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.builder.take() {
            let error = Some("client closed the connection before the response".to_string());
            let record = b.finish(Outcome::Cancelled, 499, error, self.started.elapsed());
            submit(self.state.decision_log.as_ref(), record);
        }
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

/// Turns a committed stream into the SSE response; the decision record is
/// finished when the stream ends, however it ends.
#[expect(
    clippy::too_many_arguments,
    reason = "the pipeline's stage outputs a stream response needs, passed once"
)]
fn stream_response(
    state: &Arc<AppState>,
    runtime: &Arc<Runtime>,
    stream: CommittedStream,
    meta: &ResponseMeta,
    builder: Option<RecordBuilder>,
    served_route: usize,
    charge: crate::budget::StreamCharge,
    started: Instant,
    restore_table: Option<Arc<signalbox_privacy::TokenTable>>,
) -> Response {
    let route = runtime
        .routes
        .get(served_route)
        .map(|r| r.id.to_string())
        .unwrap_or_default();
    let stream_errors = runtime
        .route_metrics
        .get(served_route)
        .map(|m| m.stream_errors.clone());
    let request_id = meta.request_id.clone();
    let first_event = started.elapsed();
    let log = state.decision_log.clone();
    let rt = runtime.clone();
    let app = state.clone();
    // The request's span (if exported) lasts until the stream ends.
    let span = tracing::Span::current();
    let stream = stream
        .with_error_context(&request_id, &route)
        .on_end(move |end| {
            span.record(
                "signalbox.stream",
                match &end.outcome {
                    StreamOutcome::Completed => "completed",
                    StreamOutcome::Cancelled => "cancelled",
                    StreamOutcome::Cut { .. } => "cut",
                },
            );
            let (status, error) = match &end.outcome {
                StreamOutcome::Completed => (200, None),
                StreamOutcome::Cancelled => {
                    tracing::debug!(%request_id, %route, "Client went away; upstream stream cancelled.");
                    (499, Some("client closed the stream".to_string()))
                }
                StreamOutcome::Cut { detail } => {
                    if let Some(c) = &stream_errors {
                        c.increment(1);
                    }
                    tracing::warn!(%request_id, %route, %detail, "Stream interrupted after commit.");
                    (200, Some(format!("stream interrupted: {detail}")))
                }
            };
            // Whatever the stream used is spent, however it ended.
            let usage = end.usage.or_else(|| Some(charge.estimate(end.events)));
            let tenant_cfg = rt.config.tenants.get(charge.tenant);
            crate::budget::charge(&app, &rt, tenant_cfg, served_route, usage);
            if let Some(mut b) = builder {
                if let StreamOutcome::Cut { detail } = &end.outcome {
                    b.stream_cut(detail);
                }
                b.usage(&rt, end.usage);
                submit(log.as_ref(), b.finish(Outcome::Served, status, error, first_event));
            }
        });
    let body = match restore_table {
        // No token issued, none to restore: the common path stays untouched.
        Some(table) if !table.is_empty() => Body::from_stream(
            crate::privacy::RestoringStream::new(stream, table, state.telemetry.clone()),
        ),
        _ => Body::from_stream(stream),
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.reserve(RESPONSE_HEADERS);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    *resp.status_mut() = StatusCode::OK;
    resp
}
