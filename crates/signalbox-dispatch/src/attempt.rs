//! The attempt loop.

use bytes::BytesMut;
use futures::StreamExt;
use signalbox_core::{AttemptRecord, ChatRequest, OutcomeClass};
use signalbox_providers::openai::ChatJson;
use signalbox_providers::{SseFramer, UpstreamError};
use tokio::time::Instant;

use crate::RouteTarget;
use crate::stream::{CommittedStream, UpstreamBytes, validate_event};

/// A request served by one route.
#[derive(Debug)]
pub struct Served {
    /// Index of the serving route in the route table.
    pub route: usize,
    /// Every attempt made, in order; the last one succeeded.
    pub attempts: Vec<AttemptRecord>,
    /// The answer.
    pub body: ServedBody,
}

/// The answer of a served request.
#[derive(Debug)]
pub enum ServedBody {
    /// A whole JSON chat completion.
    Json(ChatJson),
    /// A committed SSE stream (its first event already received).
    Stream(Box<CommittedStream>),
}

/// The upstream refused the request itself (a 4xx that another route would
/// repeat); passed to the caller, never failed over.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// Index of the route that refused.
    pub route: usize,
    /// The upstream status.
    pub status: u16,
    /// The upstream's explanation.
    pub detail: String,
}

/// Every permitted attempt failed, or the request was rejected upstream.
#[derive(Debug)]
pub struct Failure {
    /// Every attempt made, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Set when the loop stopped because the upstream rejected the request.
    pub rejection: Option<Rejection>,
    /// Index of the last route tried, if any.
    pub last_route: Option<usize>,
}

/// Tries the candidate routes (indices into `routes`) in order until one serves the request or
/// the attempt budget is spent. Only outcomes that allow failover move on.
pub async fn dispatch(
    routes: &[RouteTarget],
    candidates: &[usize],
    max_attempts: usize,
    req: &ChatRequest,
    request_id: &str,
) -> Result<Served, Failure> {
    let mut attempts = Vec::with_capacity(candidates.len().min(max_attempts));
    let mut last_route = None;
    for &idx in candidates.iter().take(max_attempts) {
        let Some(target) = routes.get(idx) else {
            continue;
        };
        last_route = Some(idx);
        let started = Instant::now();
        let result = attempt(target, req, request_id).await;
        let elapsed = started.elapsed();
        match result {
            Ok(body) => {
                target.health.record_success(elapsed);
                attempts.push(record(
                    target,
                    OutcomeClass::Success,
                    Some(200),
                    elapsed,
                    String::new(),
                    None,
                ));
                return Ok(Served {
                    route: idx,
                    attempts,
                    body,
                });
            }
            Err(e) => {
                let UpstreamError {
                    class,
                    status,
                    detail,
                    retry_after_secs,
                } = e;
                tracing::debug!(route = %target.id, outcome = class.label(), ?status, %detail, "Upstream attempt failed.");
                attempts.push(record(
                    target,
                    class,
                    status,
                    elapsed,
                    detail.clone(),
                    retry_after_secs,
                ));
                if !class.fails_over() {
                    let rejection = Rejection {
                        route: idx,
                        status: status.unwrap_or(400),
                        detail,
                    };
                    return Err(Failure {
                        attempts,
                        rejection: Some(rejection),
                        last_route,
                    });
                }
                target.health.record_failure();
            }
        }
    }
    Err(Failure {
        attempts,
        rejection: None,
        last_route,
    })
}

fn record(
    target: &RouteTarget,
    outcome: OutcomeClass,
    status: Option<u16>,
    elapsed: std::time::Duration,
    detail: String,
    retry_after_secs: Option<u64>,
) -> AttemptRecord {
    AttemptRecord {
        route: target.id.clone(),
        provider: target.provider.clone(),
        outcome,
        status,
        elapsed,
        detail,
        retry_after_secs,
    }
}

/// One attempt on one route: send, then read the whole answer (JSON) or the
/// stream up to its first event (the commit point).
async fn attempt(
    target: &RouteTarget,
    req: &ChatRequest,
    request_id: &str,
) -> Result<ServedBody, UpstreamError> {
    let body = req.to_upstream_json(&target.model);
    let started = Instant::now();
    let resp = target
        .upstream
        .send_chat(body, req.is_stream(), request_id)
        .await?;
    if !req.is_stream() {
        return target.upstream.read_json(resp).await.map(ServedBody::Json);
    }
    // The first-byte deadline covers the first event too: until it arrives
    // nothing has reached the caller and another route may still serve.
    let deadline = started + target.upstream.timeouts().first_byte;
    let mut inner: UpstreamBytes = resp.bytes_stream().boxed();
    let mut framer = SseFramer::new();
    let mut first = BytesMut::new();
    let mut done = false;
    loop {
        while let Some(ev) = framer.next_event() {
            validate_event(&ev)?;
            done |= ev.is_done();
            let meaningful = !ev.is_comment_only();
            first.extend_from_slice(&ev.raw);
            if meaningful {
                let first = first.freeze();
                return Ok(ServedBody::Stream(Box::new(CommittedStream::new(
                    first, inner, framer, done,
                ))));
            }
        }
        let next = tokio::time::timeout_at(deadline, inner.next()).await;
        match next {
            Err(_) => {
                return Err(UpstreamError::timeout(
                    "first-event",
                    target.upstream.timeouts().first_byte,
                ));
            }
            Ok(None) => {
                return Err(UpstreamError::new(
                    OutcomeClass::BadResponse,
                    "stream ended before its first event",
                ));
            }
            Ok(Some(Err(e))) => return Err(UpstreamError::from_transport(&e)),
            Ok(Some(Ok(chunk))) => framer.push(&chunk),
        }
    }
}
