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
use signalbox_config::FailureMode;
use signalbox_core::{AliasName, AttemptRecord, ChatRequest};
use signalbox_dispatch::{ServedBody, StreamOutcome, dispatch};
use signalbox_policy::Observations;
use tokio::time::{Duration, Instant};

use crate::AppState;
use crate::ingress::{read_body, request_id};
use crate::record::{Outcome, RecordBuilder, submit};
use crate::respond::{ApiError, ResponseMeta};
use crate::runtime::Runtime;
use crate::telemetry::observe;

/// Handles one chat completion request end to end.
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let runtime = state.runtime.load_full();
    let _in_flight = InFlight::enter(&state);
    let mut meta = ResponseMeta {
        request_id: request_id(&headers),
        policy_version: runtime.version_header.clone(),
        route: None,
        attempts: 0,
    };
    // No record work at all when the decision log is off.
    let mut rec = PendingRecord {
        builder: state
            .decision_log
            .as_ref()
            .map(|_| RecordBuilder::start(&meta.request_id, &runtime.config.version)),
        state: &state,
        started,
    };
    let mut alias = None;
    let result = serve_chat(
        &state,
        &runtime,
        &headers,
        body,
        &mut meta,
        &mut alias,
        &mut rec.builder,
        started,
    )
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
    if let Some(h) = alias
        .as_ref()
        .and_then(|a| runtime.alias_durations.get(a.as_str()))
    {
        observe(h, started.elapsed());
    }
    response
}

/// Route latency estimates for the ranking, read from route health.
struct RouteObservations<'a>(&'a Runtime);

impl Observations for RouteObservations<'_> {
    fn latency(&self, route: usize) -> Option<std::time::Duration> {
        self.0.routes.get(route).and_then(|r| r.health.latency())
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the pipeline's stage outputs, threaded through once"
)]
async fn serve_chat(
    state: &Arc<AppState>,
    runtime: &Arc<Runtime>,
    headers: &HeaderMap,
    body: Body,
    meta: &mut ResponseMeta,
    alias: &mut Option<AliasName>,
    rec: &mut Option<RecordBuilder>,
    started: Instant,
) -> Result<Response, ApiError> {
    let snap = &runtime.policy;
    let (tenant, anonymous) = signalbox_policy::authenticate(snap, headers)?;
    if let Some(r) = rec.as_mut() {
        r.tenant(snap, tenant);
    }
    let bytes = read_body(headers, body, runtime.config.server.max_body_bytes).await?;
    let req = ChatRequest::parse(&bytes)?;
    let signals = signalbox_policy::extract(snap, tenant, anonymous, headers, &req)?;
    let decision = signalbox_policy::decide(snap, &signals, headers, &RouteObservations(runtime));
    *alias = Some(decision.alias.clone());
    if let Some(r) = rec.as_mut() {
        r.decision(runtime, &signals, &decision);
        r.request_content(req.body());
    }
    if let Some(refusal) = decision.refusal.clone() {
        return Err(ApiError::Policy(refusal));
    }

    let outcome = dispatch(
        &runtime.routes,
        &decision.candidates,
        decision.max_attempts,
        &req,
        &meta.request_id,
    )
    .await;
    let (attempts, served_by) = match &outcome {
        Ok(s) => (&s.attempts, Some(s.route)),
        Err(f) => (&f.attempts, None),
    };
    record_attempts(runtime, attempts);
    meta.attempts = attempts.len();
    if let Some(r) = rec.as_mut() {
        r.attempts(runtime, attempts, served_by);
    }
    let served = match outcome {
        Ok(served) => served,
        Err(failure) => {
            meta.route = failure
                .last_route
                .and_then(|i| runtime.route_headers.get(i))
                .cloned();
            return Err(ApiError::Upstream {
                failure,
                excluded: decision.excluded(snap, &signals),
                fail_closed: decision.failure_mode == FailureMode::FailClosed,
            });
        }
    };
    meta.route = runtime.route_headers.get(served.route).cloned();
    match served.body {
        ServedBody::Json(json) => {
            if let Some(r) = rec.as_mut() {
                r.usage(runtime, json.usage);
                r.response_content(&json.body);
            }
            let mut resp = Response::new(Body::from(json.body));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
        ServedBody::Stream(stream) => {
            let route = runtime
                .routes
                .get(served.route)
                .map(|r| r.id.to_string())
                .unwrap_or_default();
            let stream_errors = runtime
                .route_metrics
                .get(served.route)
                .map(|m| m.stream_errors.clone());
            let request_id = meta.request_id.clone();
            let first_event = started.elapsed();
            let builder = rec.take();
            let log = state.decision_log.clone();
            let rt = runtime.clone();
            let stream = (*stream).with_error_context(&request_id, &route).on_end(move |end| {
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
                if let Some(mut b) = builder {
                    b.usage(&rt, end.usage);
                    let latency = first_event.max(Duration::ZERO);
                    submit(log.as_ref(), b.finish(Outcome::Served, status, error, latency));
                }
            });
            let mut resp = Response::new(Body::from_stream(stream));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            *resp.status_mut() = StatusCode::OK;
            Ok(resp)
        }
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
