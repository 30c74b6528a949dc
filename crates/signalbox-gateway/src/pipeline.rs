//! The request pipeline for `POST /v1/chat/completions`, in order:
//!
//! 1. ingress — request id, bounded body, parse and validate (4xx naming the field);
//! 2. decide — the policy picks the ordered candidate routes (404 for an unknown model);
//! 3. dispatch — attempts in order, failover on retryable outcomes, stream commit point;
//! 4. respond — JSON or SSE, forwarded as it arrives;
//! 5. record — always runs: metrics and the `x-signalbox-*` headers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use signalbox_core::{AliasName, AttemptRecord, ChatRequest};
use signalbox_dispatch::{ServedBody, StreamOutcome, dispatch};
use tokio::time::Instant;

use crate::AppState;
use crate::ingress::{read_body, request_id};
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
    let mut alias = None;
    let result = serve_chat(&runtime, &headers, body, &mut meta, &mut alias).await;
    let mut response = match result {
        Ok(r) => r,
        Err(err) => {
            state.telemetry.error(err.metric_label());
            if err.status().is_server_error() {
                tracing::warn!(request_id = %meta.request_id, error = %err, "Request failed.");
            } else {
                tracing::debug!(request_id = %meta.request_id, error = %err, "Request refused.");
            }
            err.into_response(&meta.request_id)
        }
    };
    meta.apply(response.headers_mut());
    // Record: the same ids as in the headers.
    let alias_name = alias.as_ref().map_or("-", AliasName::as_str);
    let route_name = meta
        .route
        .as_ref()
        .and_then(|r| r.route.to_str().ok())
        .unwrap_or("-");
    state
        .telemetry
        .request_done(alias_name, route_name, response.status().as_u16());
    if let Some(h) = alias
        .as_ref()
        .and_then(|a| runtime.alias_durations.get(a.as_str()))
    {
        observe(h, started.elapsed());
    }
    response
}

async fn serve_chat(
    runtime: &Arc<Runtime>,
    headers: &HeaderMap,
    body: Body,
    meta: &mut ResponseMeta,
    alias: &mut Option<AliasName>,
) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, runtime.config.server.max_body_bytes).await?;
    let req = ChatRequest::parse(&bytes)?;
    let decision = signalbox_policy::decide(&runtime.policy, &req)?;
    *alias = Some(decision.alias.clone());

    let outcome = dispatch(&runtime.routes, &decision, &req, &meta.request_id).await;
    let attempts = match &outcome {
        Ok(s) => &s.attempts,
        Err(f) => &f.attempts,
    };
    record_attempts(runtime, attempts);
    meta.attempts = attempts.len();
    let served = match outcome {
        Ok(served) => served,
        Err(failure) => {
            meta.route = failure
                .last_route
                .and_then(|i| runtime.route_headers.get(i))
                .cloned();
            return Err(ApiError::Upstream(failure));
        }
    };
    meta.route = runtime.route_headers.get(served.route).cloned();
    match served.body {
        ServedBody::Json(json) => {
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
            let stream = (*stream).with_error_context(&request_id, &route).on_end(move |end| match end.outcome {
                StreamOutcome::Completed => {}
                StreamOutcome::Cancelled => {
                    tracing::debug!(%request_id, %route, "Client went away; upstream stream cancelled.");
                }
                StreamOutcome::Cut { detail } => {
                    if let Some(c) = stream_errors {
                        c.increment(1);
                    }
                    tracing::warn!(%request_id, %route, %detail, "Stream interrupted after commit.");
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
