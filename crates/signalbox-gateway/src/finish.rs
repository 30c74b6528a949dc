//! Owns the pipeline's last stage, which always runs (pingora's `logging`
//! phase): from the request's context and its result it derives the
//! response, the `x-signalbox-*` headers, the metrics, the span's
//! attributes and the decision record — each read from the same context,
//! so they cannot disagree. A stream's record is completed by its
//! [`StreamTail`] when the stream ends, from a draft built here.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use opentelemetry::KeyValue;
use signalbox_core::metric_names as m;
use signalbox_core::{AliasName, AttemptRecord};
use signalbox_core::{RouteIdx, WireFormat};
use signalbox_dispatch::CommittedStream;
use signalbox_privacy::TokenTable;

use crate::budget::StreamCharge;
use crate::continuation::{Continuation, ContinuingStream, Ends, Marked, Marks};
use crate::ctx::RequestCtx;
use crate::privacy::StreamRestore;
use crate::record::{Draft, Outcome, write_now};
use crate::respond::edge::{self, coalesce::Coalesce, stream::EdgeStream, stream::Names};
use crate::respond::{ApiError, ErrorCode, headers};
use crate::runtime::Runtime;
use crate::telemetry::observe;
use crate::trace::genai;

/// What the stages produced for the caller.
pub(crate) enum Reply {
    /// A whole JSON answer, in its wire format (an OpenAI completion, or
    /// an Anthropic message passed on as the provider wrote it); the edge
    /// writes it in the client's.
    Json(Bytes, WireFormat),
    /// A committed SSE stream, restored and charged as it goes.
    Stream {
        /// The stream after its first event.
        stream: Box<CommittedStream>,
        /// The serving route.
        route: RouteIdx,
        /// The serving zone's token table, to restore the answer.
        restore: Option<Arc<TokenTable>>,
        /// What the stream's spend is priced from when it ends.
        charge: StreamCharge,
    },
    /// An earlier answer to the same `Idempotency-Key`.
    Replay(Response),
}

/// Turns the stages' result into the response and records the request.
pub(crate) fn finish(ctx: &mut RequestCtx, result: Result<Reply, ApiError>) -> Response {
    // Set when a stream is cut after commit: its idempotency key is then
    // released, not bound to the broken answer (only kept for a key).
    let mut cut = None;
    // Read before the answer is rewritten for the client: only with a span.
    let answer = answer_facts(ctx, &result);
    // `None`: a stream, whose record its tail completes when it ends.
    let result = result.and_then(|reply| written_for_client(ctx, reply));
    let mut error_type = None;
    let (mut response, ending) = match result {
        Ok(Reply::Json(body, _)) => (headers::json(body), Some((Outcome::Served, None))),
        Ok(Reply::Replay(resp)) => (resp, Some((Outcome::Served, None))),
        Ok(Reply::Stream {
            stream,
            route,
            restore,
            charge,
        }) => {
            let flag = ctx.claim.as_ref().map(|_| Arc::new(AtomicBool::new(false)));
            cut.clone_from(&flag);
            let resp = stream_response(ctx, *stream, route, restore, charge, flag);
            (resp, None)
        }
        Err(err) => {
            error_type = Some(err.code().spec().code);
            let (resp, outcome, message) = refused(ctx, err);
            (resp, Some((outcome, message)))
        }
    };
    let outcome = ending.as_ref().map_or(Outcome::Served, |(o, _)| *o);
    headers::apply(response.headers_mut(), ctx);
    if let Some(claim) = ctx.claim.take() {
        response = claim.wrap(response, cut);
    }
    let status = response.status().as_u16();
    if let (Some((outcome, error)), Some(log)) = (ending, ctx.log.take()) {
        write_now(ctx, log, outcome, status, error);
    }
    count(ctx, status);
    let ending = genai::Ending {
        status,
        outcome: outcome.as_str(),
        error_type,
        answer,
    };
    genai::annotate(ctx, &ending);
    response
}

/// The JSON answer's own facts for the span; none without a span.
fn answer_facts(ctx: &RequestCtx, result: &Result<Reply, ApiError>) -> Vec<KeyValue> {
    match result {
        Ok(Reply::Json(body, format)) if !ctx.span.is_none() => {
            genai::answer_attributes(body, *format)
        }
        _ => Vec::new(),
    }
}

/// A JSON answer written in the client's format and marked when degraded
/// (a stream is written as it goes, by its edge).
fn written_for_client(ctx: &RequestCtx, reply: Reply) -> Result<Reply, ApiError> {
    let Reply::Json(body, format) = reply else {
        return Ok(reply);
    };
    let body = edge::json(body, format, ctx.client, &ctx.degraded, ctx.request_id())?;
    Ok(Reply::Json(body, ctx.client))
}

/// The error's response, its record outcome and (when a record is kept)
/// its message; counted and logged.
fn refused(ctx: &RequestCtx, err: ApiError) -> (Response, Outcome, Option<String>) {
    ctx.state.telemetry.error(err.metric_label());
    if err.status().is_server_error() {
        tracing::warn!(request_id = %ctx.request_id(), error = %err, "Request failed.");
    } else {
        tracing::debug!(request_id = %ctx.request_id(), error = %err, "Request refused.");
    }
    let outcome = match (&err, err.code()) {
        (_, ErrorCode::UpstreamRejected) => Outcome::Rejected,
        (ApiError::Upstream { .. }, _) => Outcome::Failed,
        _ => Outcome::Refused,
    };
    let message = ctx.log.is_some().then(|| err.to_string());
    (
        err.into_response_in(ctx.request_id(), ctx.client),
        outcome,
        message,
    )
}

/// The request's metrics: its attempts, skips, degradation steps and
/// early stop, then `requests_total` and its alias's duration.
fn count(ctx: &RequestCtx, status: u16) {
    let telemetry = &ctx.state.telemetry;
    record_attempts(&ctx.runtime, &ctx.attempts);
    for s in &ctx.skipped {
        telemetry.count(m::ROUTE_SKIPPED_TOTAL, &[("route", &s.route)]);
    }
    for step in &ctx.degraded {
        telemetry.count(m::DEGRADED_TOTAL, &[("step", step.as_str())]);
    }
    if let Some(stop) = ctx.stop
        && let Some(why) = stop.describe()
    {
        telemetry.count(m::DISPATCH_STOPPED_TOTAL, &[("reason", stop.label())]);
        tracing::debug!(request_id = %ctx.request_id(), why, "Attempt loop stopped early.");
    }
    telemetry.request_done(alias_name(ctx), route_name(ctx), status);
    if let Some(h) = ctx
        .alias
        .as_ref()
        .and_then(|a| ctx.runtime.alias_durations.get(a.as_str()))
    {
        observe(h, ctx.started.elapsed());
    }
}

fn alias_name(ctx: &RequestCtx) -> &str {
    ctx.alias.as_ref().map_or("-", AliasName::as_str)
}

fn route_name(ctx: &RequestCtx) -> &str {
    headers::route(ctx)
        .and_then(|r| r.route.to_str().ok())
        .unwrap_or("-")
}

fn record_attempts(runtime: &Runtime, attempts: &[AttemptRecord]) {
    for a in attempts {
        let Some(m) = runtime
            .routes
            .by_id(a.route.as_str())
            .map(|r| &r.ext.metrics)
        else {
            continue;
        };
        if let Some(c) = m.attempt(a.outcome) {
            c.increment(1);
        }
        observe(&m.upstream_duration, a.elapsed);
    }
}

/// Turns a committed stream into the SSE response, written in the
/// client's format; its tail records the request when the stream ends,
/// however it ends.
fn stream_response(
    ctx: &mut RequestCtx,
    stream: CommittedStream,
    route: RouteIdx,
    restore: Option<Arc<TokenTable>>,
    charge: StreamCharge,
    cut: Option<Arc<AtomicBool>>,
) -> Response {
    let names = Names {
        request_id: ctx.request_id().to_owned(),
        route: ctx
            .runtime
            .routes
            .get(route)
            .map_or("", |r| r.id.as_str())
            .to_owned(),
    };
    let tail = StreamTail {
        state: Arc::clone(&ctx.state),
        runtime: Arc::clone(&ctx.runtime),
        route,
        request_id: ctx.ids.echo_header.clone(),
        span: ctx.span.clone(),
        charge,
        first_event: ctx.started.elapsed(),
        record: ctx.log.take().map(|log| Draft::of(ctx, log)),
        cut,
    };
    let armed = ctx.continuation.take();
    if let Some(armed) = armed.and_then(|c| c.ready(ctx, route, restore.as_ref())) {
        return continuing_response(ctx, stream, route, armed, tail, names);
    }
    let stream = stream.on_end(move |end| tail.end(end));
    let mut edge =
        EdgeStream::new(stream, ctx.client, ctx.stream_usage, names).marked(&ctx.degraded);
    // No token issued, none to restore: the common path stays untouched.
    if let Some(table) = restore.filter(|t| !t.is_empty()) {
        edge = edge.restoring(StreamRestore::new(table, ctx.state.telemetry.clone()));
    }
    headers::sse(Body::from_stream(Coalesce::new(edge)))
}

/// The SSE response of a stream armed for `on-stream-break: continue`:
/// the stream continued on another route if it breaks, marked where the
/// continuation asks (nothing was tokenised: no restorer).
fn continuing_response(
    ctx: &RequestCtx,
    stream: CommittedStream,
    route: RouteIdx,
    armed: Box<Continuation>,
    tail: StreamTail,
    names: Names,
) -> Response {
    let (ends, marks) = (Ends::default(), Marks::default());
    let first = stream.on_end(ends.setter(0));
    let request_id = names.request_id.clone();
    let parts = (ends, Arc::clone(&marks));
    let stream = ContinuingStream::new(first, route, armed, parts, tail, request_id);
    let edge = EdgeStream::new(stream, ctx.client, ctx.stream_usage, names).marked(&ctx.degraded);
    headers::sse(Body::from_stream(Coalesce::new(Marked::new(edge, marks))))
}

mod tail;

pub(crate) use tail::{ContinuedEnd, StreamTail};

#[cfg(test)]
mod tests;
