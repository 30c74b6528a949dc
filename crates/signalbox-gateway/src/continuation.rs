//! Owns `on-stream-break: continue`: when a committed stream breaks after
//! its first event (cut, stall, crawl), the request is re-issued to the
//! next eligible route that declares `supports.prefill-continuation`, with
//! the text already delivered as an assistant prefill; the rest is
//! streamed to the caller after what it already has, marked in-band (a
//! `signalbox` field on the first continued chunk and on the final one,
//! naming both routes), and recorded. When no route can continue it (none
//! declared, every one failed or refused the prefill, or the stream had
//! delivered a tool call), the caller gets the original break's error
//! event, never a continuation's error.
//!
//! Armed only where a continuation cannot change what crosses a boundary
//! or what the model was asked, and never for a Responses stream passed
//! through (its events are the provider's own): a stream whose request no privacy boundary
//! rewrote, no registered prompt variant, no degradation step but a
//! fallback, not at-most-once; and only to routes of the serving route's
//! trust zone, from the policy's first-round ranking (every hard
//! constraint already held for them).

mod delivered;
mod mark;
mod stream;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use signalbox_config::{DegradeStep, StreamBreak};
use signalbox_core::headers::IDEMPOTENCY_KEY;
use signalbox_core::{AttemptRecord, ChatRequest, RouteIdx, SkipRecord};
use signalbox_dispatch::{CommittedStream, Plan, ServedBody, fnv1a};
use signalbox_policy::Decision;
use signalbox_privacy::TokenTable;
use tokio::time::Instant;

pub(crate) use mark::{Marked, Marks};
pub(crate) use stream::{ContinuingStream, Ends};

use crate::AppState;
use crate::ctx::RequestCtx;
use crate::runtime::Runtime;

/// What re-issuing a broken stream needs, owned: it outlives the handler.
pub(crate) struct Continuation {
    state: Arc<AppState>,
    runtime: Arc<Runtime>,
    request: ChatRequest,
    candidates: Vec<RouteIdx>,
    max_attempts: usize,
    tenant: String,
    /// The request's intent: a route whose quality gate is closed for it
    /// (`quality.suites[].intents`) does not continue its stream either.
    intent: String,
    tenant_weight: f64,
    seed: u64,
    started: Instant,
    request_id: HeaderValue,
    traceparent: Option<HeaderValue>,
    tracestate: Option<HeaderValue>,
}

/// A continuation's result: its stream (with the route serving it), or
/// nothing; its attempts and skips either way.
pub(crate) struct Resumed {
    pub served: Option<(RouteIdx, CommittedStream)>,
    pub attempts: Vec<AttemptRecord>,
    pub skipped: Vec<SkipRecord>,
}

impl Continuation {
    /// Armed when the request streams and its alias says `continue`
    /// (checked first: nothing else is done for any other request).
    pub(crate) fn arm(
        ctx: &RequestCtx,
        headers: &HeaderMap,
        req: &ChatRequest,
        decision: &Decision,
        intent: &str,
    ) -> Option<Box<Self>> {
        if !req.is_stream() {
            return None;
        }
        let rt = &ctx.runtime;
        let alias = rt
            .config
            .aliases
            .iter()
            .find(|a| a.name == decision.alias)?;
        if alias.on_stream_break != StreamBreak::Continue {
            return None;
        }
        let seed_source = headers
            .get(IDEMPOTENCY_KEY)
            .map_or(ctx.request_id().as_bytes(), |v| v.as_bytes());
        Some(Box::new(Self {
            state: Arc::clone(&ctx.state),
            runtime: Arc::clone(rt),
            request: req.clone(),
            candidates: decision.candidates.clone(),
            max_attempts: decision.max_attempts.max(1),
            tenant: ctx.tenant_id().to_owned(),
            intent: intent.to_owned(),
            tenant_weight: ctx.tenant_config().map_or(1.0, |t| t.weight),
            seed: fnv1a(seed_source),
            started: ctx.started,
            request_id: ctx.ids.echo_header.clone(),
            traceparent: None,
            tracestate: None,
        }))
    }

    /// Ready for the stream `served` is serving, when nothing it did since
    /// arming rules a continuation out; the candidates narrowed to routes
    /// that may continue it.
    pub(crate) fn ready(
        mut self: Box<Self>,
        ctx: &RequestCtx,
        served: RouteIdx,
        restore: Option<&Arc<TokenTable>>,
    ) -> Option<Box<Self>> {
        let rewritten = ctx.privacy.is_some() || restore.is_some_and(|t| !t.is_empty());
        let stepped = ctx
            .degraded
            .iter()
            .any(|s| *s != DegradeStep::FallbackRoute);
        if rewritten || stepped || ctx.prompt.is_some() || ctx.at_most_once {
            return None;
        }
        let served_cfg = self.runtime.route_config(served)?;
        // A Responses body passed through: its events are the provider's
        // own, which the delivered-text tracker does not read.
        if served_cfg.responses && self.request.native().is_some() {
            return None;
        }
        let zone = served_cfg.zone;
        let rt = &self.runtime;
        self.candidates.retain(|&idx| {
            idx != served
                && rt.route_config(idx).is_some_and(|r| {
                    r.zone == zone && r.supports.prefill_continuation && r.supports.streaming
                })
        });
        if let Some(trace) = &ctx.trace {
            self.traceparent = trace.header();
            self.tracestate.clone_from(&trace.state);
        }
        Some(self)
    }

    /// Re-issues the request with `prefill` as the assistant's start.
    async fn resume(self, prefill: String) -> Resumed {
        let request = match with_prefill(&self.request, &prefill) {
            Some(r) => r,
            None => return Resumed::nothing(),
        };
        let cfg = &self.runtime.config;
        let plan = Plan {
            routes: &self.runtime.routes,
            candidates: &self.candidates,
            max_attempts: self.max_attempts * cfg.resilience.retry.attempts_per_route as usize,
            at_most_once: false,
            retry: &cfg.resilience.retry,
            budget: &self.runtime.retry_budget,
            seed: self.seed,
            started: self.started,
            sticky: None,
            tenant: &self.tenant,
            // The intent's quality gates hold for a continuation as well.
            intent: &self.intent,
            tenant_weight: self.tenant_weight,
            queue_timeout: cfg.resilience.queue_timeout,
            bodies: &[],
        };
        let call = signalbox_providers::CallContext {
            request_id: Some(&self.request_id),
            traceparent: self.traceparent.as_ref(),
            tracestate: self.tracestate.as_ref(),
        };
        match signalbox_dispatch::dispatch(plan, &request, &call).await {
            Ok(served) => {
                let stream = match served.body {
                    ServedBody::Stream(s) => Some((served.route, *s)),
                    // A stream request answered whole: not a continuation.
                    ServedBody::Json(_) => None,
                };
                Resumed {
                    served: stream,
                    attempts: served.attempts,
                    skipped: served.skipped,
                }
            }
            Err(failure) => Resumed {
                served: None,
                attempts: failure.attempts,
                skipped: failure.skipped,
            },
        }
    }

    /// Whether any route may continue the stream.
    fn has_candidates(&self) -> bool {
        !self.candidates.is_empty()
    }

    fn route_name(&self, idx: RouteIdx) -> String {
        self.runtime
            .routes
            .get(idx)
            .map_or_else(String::new, |r| r.id.to_string())
    }
}

impl Resumed {
    fn nothing() -> Self {
        Self {
            served: None,
            attempts: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// The request with `prefill` as the last, assistant message (the request
/// as it is when nothing was delivered); `None` if it has no messages.
fn with_prefill(req: &ChatRequest, prefill: &str) -> Option<ChatRequest> {
    if prefill.is_empty() {
        return Some(req.clone());
    }
    let (req, pushed) = req
        .rewritten(|body| {
            let Some(Value::Array(messages)) = body.get_mut("messages") else {
                return Ok::<bool, std::convert::Infallible>(false);
            };
            messages.push(json!({ "role": "assistant", "content": prefill }));
            Ok(true)
        })
        .ok()?;
    pushed.then_some(req)
}

#[cfg(test)]
mod tests;
