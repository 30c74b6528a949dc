//! The attempt loop.

use std::sync::Arc;

use bytes::BytesMut;
use futures::StreamExt;
use signalbox_config::RetryPolicy;
use signalbox_core::{AttemptRecord, ChatRequest, OutcomeClass, ProviderErrorCode, SkipKind};
use signalbox_providers::{CallContext, ChatJson, Chunk, Prepared, TranslationNote, UpstreamError};
use tokio::time::{Duration, Instant};

use signalbox_state::{FairGate, RateGate};

use crate::RouteTarget;
use crate::budget::RetryBudget;
use crate::health::Admission;
use crate::order::{self, Skipped, StickyInput};
use crate::stream::{CommittedStream, Ending, UpstreamBytes, validate_event};

/// A request served by one route.
#[derive(Debug)]
pub struct Served {
    /// Index of the serving route in the route table.
    pub route: usize,
    /// Every attempt made, in order; the last one succeeded.
    pub attempts: Vec<AttemptRecord>,
    /// Routes skipped for their health.
    pub skipped: Vec<Skipped>,
    /// Served by another route than the one the policy meant (a failure or
    /// an unhealthy route moved it): the `fallback-route` degradation.
    pub fallback: bool,
    /// The session's sticky route, when a session was given.
    pub sticky: Option<usize>,
    /// What translating the request for the serving route's provider
    /// dropped or changed (empty for untranslated OpenAI-compatible routes).
    pub notes: Vec<TranslationNote>,
    /// The caller's output limit, lowered to the serving route's.
    pub max_tokens_clamped: Option<signalbox_core::request::OutputClamp>,
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

/// How a skip reason starts when the route's provider cannot express the
/// request (its adapter refused a field).
pub const CANNOT_CARRY: &str = "cannot carry the request: ";

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
    /// The provider's own error code and type, when it sent them.
    pub provider_error: Option<ProviderErrorCode>,
}

/// Why the attempt loop stopped before trying every route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Every permitted route was tried (or skipped).
    Exhausted,
    /// The retry budget was spent (a provider-wide outage).
    RetryBudget,
    /// The request's deadline passed.
    Deadline,
    /// At-most-once: the request may have reached a provider.
    AtMostOnce,
}

impl StopReason {
    /// Why, in words, for errors and records.
    pub fn describe(self) -> Option<&'static str> {
        match self {
            Self::Exhausted => None,
            Self::RetryBudget => Some("retry budget exhausted; no further attempts"),
            Self::Deadline => Some("request deadline reached; no further attempts"),
            Self::AtMostOnce => Some(
                "irreversible request may have reached the provider; not retried (at-most-once)",
            ),
        }
    }
}

/// Every permitted attempt failed, or the request was rejected upstream.
#[derive(Debug)]
pub struct Failure {
    /// Every attempt made, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Routes skipped for their health.
    pub skipped: Vec<Skipped>,
    /// Set when the loop stopped because the upstream rejected the request.
    pub rejection: Option<Rejection>,
    /// Index of the last route tried, if any.
    pub last_route: Option<usize>,
    /// Why the loop stopped.
    pub stop: StopReason,
    /// Some route was skipped because it was at capacity for this tenant.
    pub capacity_refused: bool,
    /// When nothing was sent because every permitted route is shut for a
    /// known time (quota cooldown, open circuit): the earliest moment one
    /// of them admits requests again (the caller's `retry-after`).
    pub available_in: Option<Duration>,
}

impl Failure {
    /// Nothing was sent, and every route was skipped because its provider
    /// cannot express the request: the request, not the providers, must change.
    pub fn no_route_can_carry(&self) -> bool {
        self.attempts.is_empty()
            && !self.capacity_refused
            && !self.skipped.is_empty()
            && self.skipped.iter().all(|s| s.kind == SkipKind::CannotCarry)
    }
}

/// Everything the attempt loop needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The route table.
    pub routes: &'a [RouteTarget],
    /// Eligible routes (indices into `routes`), best first.
    pub candidates: &'a [usize],
    /// Most upstream attempts.
    pub max_attempts: usize,
    /// Irreversible: never send twice once a provider may have seen it.
    pub at_most_once: bool,
    /// Backoff, per-route attempts, deadline.
    pub retry: &'a RetryPolicy,
    /// The gateway-wide retry budget.
    pub budget: &'a RetryBudget,
    /// Seeds jitter and slow-start sampling, so a request's sequence is
    /// reproducible.
    pub seed: u64,
    /// When the request arrived (the deadline counts from here).
    pub started: Instant,
    /// Session stickiness.
    pub sticky: Option<StickyInput<'a>>,
    /// Capacity gates per route (same order as `routes`).
    pub gates: &'a [Option<FairGate>],
    /// Request-rate gates per route (same order as `routes`).
    pub rates: &'a [Option<RateGate>],
    /// The tenant, for fair queuing at a gate.
    pub tenant: &'a str,
    /// The tenant's fair-share weight.
    pub tenant_weight: f64,
    /// Longest wait at a gate.
    pub queue_timeout: Duration,
    /// Per route (same order as `routes`): a rewritten body to send instead
    /// of the request (the privacy boundary of the route's zone); empty or
    /// `None` sends the request as it is.
    pub bodies: &'a [Option<&'a ChatRequest>],
}

/// Tries the plan's routes in health-adjusted order until one serves the
/// request, the request is rejected, or a bound (attempts, budget, deadline,
/// at-most-once) stops the loop.
pub async fn dispatch(
    plan: Plan<'_>,
    req: &ChatRequest,
    call: &CallContext<'_>,
) -> Result<Served, Failure> {
    let order = order::order(plan.routes, plan.candidates, plan.seed, plan.sticky);
    plan.budget.note_request();
    let deadline = plan.started + plan.retry.deadline;
    let mut attempts: Vec<AttemptRecord> =
        Vec::with_capacity(order.routes.len().min(plan.max_attempts));
    let mut skipped = order.skipped;
    let mut last_route = None;
    let mut stop = StopReason::Exhausted;
    let mut capacity_refused = false;
    'routes: for &idx in &order.routes {
        let Some(target) = plan.routes.get(idx) else {
            continue;
        };
        let body = plan.bodies.get(idx).copied().flatten().unwrap_or(req);
        // Rendered once per route: its retries send the same bytes.
        let prepared = match target.upstream.prepare(body, &target.settings) {
            Ok(p) => p,
            Err(e) => {
                skipped.push(Skipped::new(
                    target.id.to_string(),
                    SkipKind::CannotCarry,
                    format!("{CANNOT_CARRY}{e}"),
                ));
                continue 'routes;
            }
        };
        let mut tries_here = 0u32;
        while tries_here < plan.retry.attempts_per_route {
            if attempts.len() >= plan.max_attempts {
                break 'routes;
            }
            if !attempts.is_empty() && Instant::now() >= deadline {
                stop = StopReason::Deadline;
                break 'routes;
            }
            if let Some(Some(rate)) = plan.rates.get(idx)
                && !rate.try_acquire()
            {
                capacity_refused = true;
                skipped.push(Skipped::new(
                    target.id.to_string(),
                    SkipKind::AtRate,
                    "at its max-requests-per-second",
                ));
                continue 'routes;
            }
            let permit = match plan.gates.get(idx) {
                Some(Some(gate)) => {
                    match gate
                        .acquire(plan.tenant, plan.tenant_weight, plan.queue_timeout)
                        .await
                    {
                        Ok(p) => Some(p),
                        Err(e) => {
                            capacity_refused = true;
                            skipped.push(Skipped::new(
                                target.id.to_string(),
                                SkipKind::AtCapacity,
                                format!("at capacity: {e}"),
                            ));
                            continue 'routes;
                        }
                    }
                }
                _ => None,
            };
            // Routes skipped at their gates spend no retry budget. (Checked
            // before `admit`, which may take a half-open trial slot.)
            if !attempts.is_empty() && !plan.budget.try_retry() {
                stop = StopReason::RetryBudget;
                break 'routes;
            }
            if let Admission::Skip(kind, reason) = target.health.admit() {
                skipped.push(Skipped::new(target.id.to_string(), kind, reason));
                continue 'routes;
            }
            tries_here += 1;
            last_route = Some(idx);
            let started = Instant::now();
            let result = attempt(target, &prepared, call).await;
            let elapsed = started.elapsed();
            let err = match result {
                Ok(mut body) => {
                    match &mut body {
                        // A stream's health is settled when it ends; it holds
                        // its route slot until then.
                        ServedBody::Stream(s) => {
                            target.health.record_latency(elapsed);
                            if let Some(p) = permit {
                                s.hold(Box::new(p));
                            }
                        }
                        ServedBody::Json(_) => target.health.record_success(elapsed),
                    }
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
                        skipped,
                        fallback: order.intended != Some(idx),
                        sticky: order.sticky,
                        notes: prepared.notes,
                        max_tokens_clamped: prepared.max_tokens_clamped,
                        body,
                    });
                }
                Err(e) => e,
            };
            let UpstreamError {
                class,
                status,
                detail,
                retry_after_secs,
                provider_error,
            } = err;
            tracing::debug!(route = %target.id, outcome = class.label(), ?status, %detail, "Upstream attempt failed.");
            let retry_after = retry_after_secs.map(Duration::from_secs);
            target.health.record(class, elapsed, retry_after);
            attempts.push(AttemptRecord {
                provider_error: provider_error.clone(),
                ..record(
                    target,
                    class,
                    status,
                    elapsed,
                    detail.clone(),
                    retry_after_secs,
                )
            });
            if !class.fails_over() {
                let rejection = Rejection {
                    route: idx,
                    status: status.unwrap_or(400),
                    detail,
                    provider_error,
                };
                return Err(Failure {
                    attempts,
                    skipped,
                    rejection: Some(rejection),
                    last_route,
                    stop,
                    capacity_refused,
                    available_in: None,
                });
            }
            if plan.at_most_once && class.may_have_reached_provider() {
                stop = StopReason::AtMostOnce;
                break 'routes;
            }
            // A quota answer moves on at once: the route is cooling down.
            if class == OutcomeClass::RateLimited || tries_here >= plan.retry.attempts_per_route {
                continue 'routes;
            }
            let wait = backoff(plan.retry, plan.seed, tries_here, retry_after);
            let Some(wait) = wait else {
                continue 'routes; // retry-after longer than we would wait: next route
            };
            if Instant::now() + wait >= deadline {
                stop = StopReason::Deadline;
                break 'routes;
            }
            tokio::time::sleep(wait).await;
        }
    }
    let available_in = if attempts.is_empty() && !capacity_refused {
        earliest_available(plan.routes, plan.candidates)
    } else {
        None
    };
    Err(Failure {
        attempts,
        skipped,
        rejection: None,
        last_route,
        stop,
        capacity_refused,
        available_in,
    })
}

/// The earliest moment one of `candidates` admits requests again, when
/// every one is shut for a known time; `None` when any is shut for an
/// unknown time or open (skipped for another reason, which waiting does
/// not cure).
fn earliest_available(routes: &[RouteTarget], candidates: &[usize]) -> Option<Duration> {
    let mut earliest: Option<Duration> = None;
    for &idx in candidates {
        let wait = routes.get(idx)?.health.available_in()?;
        earliest = Some(earliest.map_or(wait, |e| e.min(wait)));
    }
    earliest
}

/// The wait before same-route retry number `n` (1-based): exponential with
/// full jitter drawn from the request's seed, or the provider's
/// `retry-after` when that is within `backoff-max` (`None` when it is not).
fn backoff(
    policy: &RetryPolicy,
    seed: u64,
    n: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    if let Some(ra) = retry_after {
        return (ra <= policy.backoff_max).then_some(ra);
    }
    let exp = policy
        .backoff_base
        .saturating_mul(1u32 << (n.saturating_sub(1)).min(16))
        .min(policy.backoff_max);
    let jitter = order::unit(order::splitmix(seed ^ u64::from(n)));
    Some(exp.mul_f64(jitter))
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
        provider_error: None,
    }
}

/// One attempt on one route: send, then read the whole answer (JSON) or the
/// stream up to its first event (the commit point).
async fn attempt(
    target: &RouteTarget,
    prepared: &Prepared,
    call: &CallContext<'_>,
) -> Result<ServedBody, UpstreamError> {
    let started = Instant::now();
    let resp = target.upstream.send(prepared, call).await?;
    if !prepared.is_stream() {
        return target.upstream.read_json(resp).await.map(ServedBody::Json);
    }
    // The first-byte deadline covers the first event too: until it arrives
    // nothing has reached the caller and another route may still serve.
    let deadline = started + target.upstream.timeouts().first_byte;
    let mut inner: UpstreamBytes = target.upstream.events(resp, prepared);
    let mut framer = target.upstream.sse_framer();
    let mut first = BytesMut::new();
    let format = prepared.answer_format();
    let mut usage = None;
    let mut ending = Ending {
        format,
        ..Ending::default()
    };
    loop {
        while let Some(ev) = framer.next_event()? {
            validate_event(&ev)?;
            ending.note(&ev);
            let meaningful = !ev.is_comment_only();
            first.extend_from_slice(&ev.raw);
            if meaningful {
                // An error under a 200 is a failure like any other until
                // something has reached the caller.
                if let Some(e) = target.upstream.first_event_error(format, &ev.data) {
                    return Err(e);
                }
                let first = first.freeze();
                let mut stream = CommittedStream::new(first, inner, framer, ending)
                    .guard(target.upstream.timeouts(), Arc::clone(&target.health));
                // Anthropic's first event carries the input tokens.
                stream.note_usage(&ev);
                stream.set_usage(usage);
                return Ok(ServedBody::Stream(Box::new(stream)));
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
            Ok(Some(Err(e))) => return Err(e),
            Ok(Some(Ok(Chunk::Data(chunk)))) => framer.push(&chunk),
            Ok(Some(Ok(Chunk::Usage(u)))) => usage = Some(u),
        }
    }
}
