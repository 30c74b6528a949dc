//! The attempt loop.

use std::sync::Arc;

use bytes::BytesMut;
use futures::StreamExt;
use signalbox_config::RetryPolicy;
use signalbox_core::{
    AttemptRecord, ChatRequest, OutcomeClass, ProviderErrorCode, RouteIdx, SkipKind,
};
use signalbox_providers::{CallContext, ChatJson, Chunk, Prepared, TranslationNote, UpstreamError};

use crate::upstream::Answer;
use tokio::time::{Duration, Instant};

use crate::budget::RetryBudget;
use crate::health::Admission;
use crate::order::{self, Skipped, StickyInput};
use crate::stream::{CommittedStream, Ending, UpstreamBytes, validate_event};
use crate::{Route, RouteTable};

/// A request served by one route.
#[derive(Debug)]
pub struct Served {
    /// The serving route.
    pub route: RouteIdx,
    /// Every attempt made, in order; the last one succeeded.
    pub attempts: Vec<AttemptRecord>,
    /// Routes skipped for their health.
    pub skipped: Vec<Skipped>,
    /// Served by another route than the one the policy meant (a failure or
    /// an unhealthy route moved it): the `fallback-route` degradation.
    pub fallback: bool,
    /// The session's sticky route, when a session was given.
    pub sticky: Option<RouteIdx>,
    /// Warned routes moved after the others for this request, with the
    /// order tried (`None` for almost every request).
    pub reordered: Option<Box<signalbox_core::ReorderRecord>>,
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

/// The upstream refused the request itself (a 4xx that another route would
/// repeat); passed to the caller, never failed over.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The route that refused.
    pub route: RouteIdx,
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
    /// The `reason` label of `signalbox_dispatch_stopped_total`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Exhausted => "Exhausted",
            Self::RetryBudget => "RetryBudget",
            Self::Deadline => "Deadline",
            Self::AtMostOnce => "AtMostOnce",
        }
    }

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
    /// The last route tried, if any.
    pub last_route: Option<RouteIdx>,
    /// Why the loop stopped.
    pub stop: StopReason,
    /// Some route was skipped because it was at capacity for this tenant.
    pub capacity_refused: bool,
    /// When nothing was sent because every permitted route is shut for a
    /// known time (quota cooldown, open circuit): the earliest moment one
    /// of them admits requests again (the caller's `retry-after`).
    pub available_in: Option<Duration>,
    /// Warned routes moved after the others for this request, with the
    /// order tried (`None` for almost every request).
    pub reordered: Option<Box<signalbox_core::ReorderRecord>>,
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
pub struct Plan<'a, X = ()> {
    /// The route table.
    pub routes: &'a RouteTable<X>,
    /// Eligible routes, best first.
    pub candidates: &'a [RouteIdx],
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
    /// The tenant, for fair queuing at a gate.
    pub tenant: &'a str,
    /// The request's intent: a route a suite judging it for this intent
    /// disabled is skipped (empty: no intent-scoped gate applies).
    pub intent: &'a str,
    /// The tenant's fair-share weight.
    pub tenant_weight: f64,
    /// Longest wait at a gate.
    pub queue_timeout: Duration,
    /// Per route (indexed like `routes`): a rewritten body to send instead
    /// of the request (a prompt variant, the privacy boundary of the
    /// route's zone); empty or `None` sends the request as it is.
    pub bodies: &'a [Option<&'a ChatRequest>],
}

/// Tries the plan's routes in health-adjusted order until one serves the
/// request, the request is rejected, or a bound (attempts, budget, deadline,
/// at-most-once) stops the loop.
pub async fn dispatch<X: Sync>(
    plan: Plan<'_, X>,
    req: &ChatRequest,
    call: &CallContext<'_>,
) -> Result<Served, Failure> {
    let mut order = order::order(plan.routes, plan.candidates, plan.seed, plan.sticky);
    order::apply_intent_gates(plan.routes, &mut order, plan.intent, plan.seed);
    plan.budget.note_request();
    let mut run = Run {
        plan: &plan,
        deadline: plan.started + plan.retry.deadline,
        attempts: Vec::with_capacity(order.routes.len().min(plan.max_attempts)),
        skipped: order.skipped,
        reordered: order.reordered,
        last_route: None,
        stop: StopReason::Exhausted,
        capacity_refused: false,
        overflow: None,
    };
    for &idx in &order.routes {
        let Some(target) = plan.routes.get(idx) else {
            continue;
        };
        if run.too_small(target) {
            continue;
        }
        let body = plan.bodies.get(idx.get()).copied().flatten().unwrap_or(req);
        // Rendered once per route: its retries send the same bytes.
        let prepared = match target.upstream.prepare(body, &target.settings) {
            Ok(p) => p,
            Err(e) => {
                // The kind is what decides (a 400 when no route can carry
                // it); the text is for people.
                let why = format!("cannot carry the request: {e}");
                run.skip(target, SkipKind::CannotCarry, why);
                continue;
            }
        };
        match run.on_route(idx, target, &prepared, call).await {
            RouteEnd::Next => {}
            RouteEnd::Stop => break,
            RouteEnd::Served(body) => {
                return Ok(Served {
                    route: idx,
                    fallback: order.intended != Some(idx),
                    sticky: order.sticky,
                    reordered: run.reordered,
                    notes: prepared.notes,
                    max_tokens_clamped: prepared.max_tokens_clamped,
                    body,
                    attempts: run.attempts,
                    skipped: run.skipped,
                });
            }
            RouteEnd::Rejected(rejection) => return Err(run.fail(Some(rejection), None)),
        }
    }
    if let Some(overflow) = run.overflow.take() {
        return Err(run.fail(Some(overflow.rejection), None));
    }
    let available_in = if run.attempts.is_empty() && !run.capacity_refused {
        earliest_available(plan.routes, plan.candidates)
    } else {
        None
    };
    Err(run.fail(None, available_in))
}

/// How the loop left one route.
enum RouteEnd {
    /// On to the next route.
    Next,
    /// No further attempts (the reason is in `Run::stop`).
    Stop,
    /// The route served the request.
    Served(ServedBody),
    /// The upstream refused the request itself.
    Rejected(Rejection),
}

/// The attempt loop's state across routes.
struct Run<'p, 'a, X> {
    plan: &'p Plan<'a, X>,
    deadline: Instant,
    attempts: Vec<AttemptRecord>,
    skipped: Vec<Skipped>,
    reordered: Option<Box<signalbox_core::ReorderRecord>>,
    last_route: Option<RouteIdx>,
    stop: StopReason,
    capacity_refused: bool,
    /// Set when a provider said the prompt overflowed a route's context
    /// window: from then on only larger windows are tried, and the
    /// rejection is the answer if none serves.
    overflow: Option<Overflow>,
}

/// Held for an attempt: the route's capacity slot, if it has a gate.
type Permit = Option<signalbox_state::GatePermit>;

impl<X: Sync> Run<'_, '_, X> {
    fn skip(&mut self, target: &Route<X>, kind: SkipKind, reason: impl Into<String>) {
        self.skipped
            .push(Skipped::new(target.id.to_string(), kind, reason));
    }

    fn fail(self, rejection: Option<Rejection>, available_in: Option<Duration>) -> Failure {
        Failure {
            attempts: self.attempts,
            skipped: self.skipped,
            rejection,
            last_route: self.last_route,
            stop: self.stop,
            capacity_refused: self.capacity_refused,
            available_in,
            reordered: self.reordered,
        }
    }

    /// Tries one route up to its attempts, with backoff between them.
    async fn on_route(
        &mut self,
        idx: RouteIdx,
        target: &Route<X>,
        prepared: &Prepared,
        call: &CallContext<'_>,
    ) -> RouteEnd {
        let mut tries_here = 0u32;
        while tries_here < self.plan.retry.attempts_per_route {
            let permit = match self.admit(target).await {
                Ok(p) => p,
                Err(end) => return end,
            };
            tries_here += 1;
            self.last_route = Some(idx);
            let started = Instant::now();
            let result = attempt(target, prepared, call).await;
            let timing = Timing {
                sent_after: started.saturating_duration_since(self.plan.started),
                elapsed: started.elapsed(),
            };
            let err = match result {
                Ok(body) => return RouteEnd::Served(self.succeeded(target, body, permit, timing)),
                Err(e) => e,
            };
            if let Some(end) = self.failed(idx, target, err, timing, tries_here).await {
                return end;
            }
        }
        RouteEnd::Next
    }

    /// The checks before each attempt: the bounds (attempts, deadline,
    /// budget), the route's rate and capacity gates, and its health.
    async fn admit(&mut self, target: &Route<X>) -> Result<Permit, RouteEnd> {
        let plan = self.plan;
        if self.attempts.len() >= plan.max_attempts {
            return Err(RouteEnd::Stop);
        }
        if !self.attempts.is_empty() && Instant::now() >= self.deadline {
            self.stop = StopReason::Deadline;
            return Err(RouteEnd::Stop);
        }
        if let Some(rate) = &target.rate
            && !rate.try_acquire()
        {
            self.capacity_refused = true;
            self.skip(target, SkipKind::AtRate, "at its max-requests-per-second");
            return Err(RouteEnd::Next);
        }
        let permit = match &target.gate {
            Some(gate) => {
                let acquired = gate
                    .acquire(plan.tenant, plan.tenant_weight, plan.queue_timeout)
                    .await;
                match acquired {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.capacity_refused = true;
                        self.skip(target, SkipKind::AtCapacity, format!("at capacity: {e}"));
                        return Err(RouteEnd::Next);
                    }
                }
            }
            None => None,
        };
        // A same-route retry spends the retry budget, and so does a
        // failover to a route that is failing too (a total outage stays
        // near 1× the request rate). A failover to an untried route whose
        // last outcome was not a failure is free: budgeting it refused
        // healthy fallbacks in a partial outage. Skipped routes spend
        // nothing. (Checked before `admit`, which may take a half-open
        // trial slot.)
        if self.spends_budget(target) && !plan.budget.try_retry() {
            self.stop = StopReason::RetryBudget;
            return Err(RouteEnd::Next);
        }
        if let Admission::Skip(kind, reason) = target.health.admit() {
            self.skip(target, kind, reason);
            return Err(RouteEnd::Next);
        }
        Ok(permit)
    }

    /// Records a served attempt; a stream holds its route slot until it ends.
    fn succeeded(
        &mut self,
        target: &Route<X>,
        mut body: ServedBody,
        permit: Permit,
        timing: Timing,
    ) -> ServedBody {
        let elapsed = timing.elapsed;
        match &mut body {
            // A stream's health is settled when it ends.
            ServedBody::Stream(s) => {
                target.health.record_latency(elapsed);
                if let Some(p) = permit {
                    s.hold(Box::new(p));
                }
            }
            ServedBody::Json(_) => target.health.record_success(elapsed),
        }
        self.attempts.push(record(
            target,
            OutcomeClass::Success,
            Some(200),
            timing,
            String::new(),
            None,
        ));
        body
    }

    /// Records a failed attempt and decides what follows it: `None` tries
    /// the same route again (after its backoff), else how the route ends.
    async fn failed(
        &mut self,
        idx: RouteIdx,
        target: &Route<X>,
        err: UpstreamError,
        timing: Timing,
        tries_here: u32,
    ) -> Option<RouteEnd> {
        let overflowed = err.overflowed_context();
        let elapsed = timing.elapsed;
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
        self.attempts.push(AttemptRecord {
            provider_error: provider_error.clone(),
            ..record(
                target,
                class,
                status,
                timing,
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
            if overflowed {
                // A larger window later in the order may still take it
                // (only larger ones are tried after this one).
                self.overflow = Some(Overflow {
                    window: target.settings.context_window,
                    rejection,
                });
                return Some(RouteEnd::Next);
            }
            return Some(RouteEnd::Rejected(rejection));
        }
        if self.plan.at_most_once && class.may_have_reached_provider() {
            self.stop = StopReason::AtMostOnce;
            return Some(RouteEnd::Stop);
        }
        if tries_here >= self.plan.retry.attempts_per_route
            || !retry_class(class).is_some_and(|c| self.plan.retry.retry_on.contains(c))
        {
            return Some(RouteEnd::Next);
        }
        // A quota answer is waited out only when the provider said how long
        // (the route is cooling down until then) and that is short.
        if class == OutcomeClass::RateLimited && retry_after.is_none() {
            return Some(RouteEnd::Next);
        }
        let Some(wait) = backoff(self.plan.retry, self.plan.seed, tries_here, retry_after) else {
            // retry-after longer than we would wait: the next route.
            return Some(RouteEnd::Next);
        };
        if Instant::now() + wait >= self.deadline {
            self.stop = StopReason::Deadline;
            return Some(RouteEnd::Stop);
        }
        tokio::time::sleep(wait).await;
        None
    }
}

/// One attempt on one route: one call, then the whole answer (JSON) or the
/// stream up to its first event (the commit point).
async fn attempt<X: Sync>(
    target: &Route<X>,
    prepared: &Prepared,
    call: &CallContext<'_>,
) -> Result<ServedBody, UpstreamError> {
    let started = Instant::now();
    match target.upstream.call(prepared, call).await? {
        Answer::Json(json) => Ok(ServedBody::Json(json)),
        Answer::Events(events) => {
            // The first event must come within the first-token deadline
            // (bounded by the first-byte one): until it arrives nothing has
            // reached the caller and another route may still serve.
            let t = target.upstream.timeouts();
            let deadline = started + t.first_byte.min(t.first_token);
            commit(target, prepared, events, deadline)
                .await
                .map(ServedBody::Stream)
        }
    }
}

/// Reads a stream up to its first meaningful event and commits to it, or
/// fails (another route may still serve): an event that is not JSON, an
/// error event under the 200, no event by `deadline`, or an early end. A
/// decoded stream commits on its first events (its decoder already turned
/// a provider's error event into a failure).
async fn commit<X: Sync>(
    target: &Route<X>,
    prepared: &Prepared,
    mut inner: UpstreamBytes,
    deadline: Instant,
) -> Result<Box<CommittedStream>, UpstreamError> {
    let upstream = &target.upstream;
    let mut framer = upstream.sse_framer();
    let mut first = BytesMut::new();
    let format = prepared.answer_format();
    let mut ending = Ending {
        format,
        ..Ending::default()
    };
    loop {
        while let Some(ev) = framer.next_event()? {
            validate_event(&ev)?;
            ending.note(&ev);
            first.extend_from_slice(&ev.raw);
            if ev.is_comment_only() {
                continue;
            }
            // An error under a 200 is a failure like any other until
            // something has reached the caller.
            if let Some(e) = upstream.first_event_error(format, &ev.data) {
                return Err(e);
            }
            let mut stream = CommittedStream::new(first.freeze(), inner, framer, ending);
            // Anthropic's first event carries the input tokens; either
            // format's first event names the model.
            stream.note_usage(&ev);
            stream.note_model(&ev);
            return Ok(Box::new(guarded(stream, target)));
        }
        match tokio::time::timeout_at(deadline, inner.next()).await {
            Err(_) => {
                let t = upstream.timeouts();
                let after = t.first_byte.min(t.first_token);
                return Err(UpstreamError::timeout("first-event", after));
            }
            Ok(None) => {
                return Err(UpstreamError::new(
                    OutcomeClass::BadResponse,
                    "stream ended before its first event",
                ));
            }
            Ok(Some(Err(e))) => return Err(e),
            Ok(Some(Ok(Chunk::Data(chunk)))) => framer.push(&chunk),
            Ok(Some(Ok(Chunk::Events(events)))) => {
                let stream = CommittedStream::decoded(events, inner);
                return Ok(Box::new(guarded(stream, target)));
            }
        }
    }
}

/// The stream under its route's stall guards.
fn guarded<X>(stream: CommittedStream, target: &Route<X>) -> CommittedStream {
    stream.guard(target.upstream.timeouts(), Arc::clone(&target.health))
}

mod record;
mod retry;

use record::{Timing, record};
use retry::{Overflow, backoff, earliest_available, retry_class};

#[cfg(test)]
mod tests;
