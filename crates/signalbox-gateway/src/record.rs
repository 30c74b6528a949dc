//! Owns the decision record: built from the request's context in one
//! place, completed however the request ends (handler end, stream end, or
//! the caller going away), and handed to the decision-log writer without
//! ever waiting on it.

use std::sync::Arc;
use std::time::Duration;

use signalbox_config::Price;
use signalbox_core::RouteIdx;
use signalbox_core::{
    AttemptRecord, ContinuedRecord, DecisionRecord, SkipRecord, TranslationRecord, Usage,
};
use signalbox_decision_log::DecisionLog;
use signalbox_dispatch::StopReason;
use signalbox_policy::{Decision, PolicySnapshot, Signals};
use signalbox_providers::TranslationNote;

use crate::ctx::{LogFacts, RequestCtx};
use crate::prompt::PromptUse;
use crate::runtime::Runtime;

/// How a request ended, for the record's `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A route served it.
    Served,
    /// The gateway refused it (bad input, auth, policy).
    Refused,
    /// The upstream rejected the request itself.
    Rejected,
    /// Every permitted attempt failed.
    Failed,
    /// The caller went away before the response head.
    Cancelled,
}

impl Outcome {
    /// The record's word for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Served => "served",
            Self::Refused => "refused",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// How a request's record ends: what only its end knows.
#[derive(Debug)]
pub(crate) struct End {
    /// How the request ended.
    pub outcome: Outcome,
    /// The status the caller got (499 when it went away).
    pub status: u16,
    /// Why it failed or was cut, in words.
    pub error: Option<String>,
    /// Until the response head (a stream's first event).
    pub latency: Duration,
    /// What the answer used, as the provider reported it (or estimated).
    pub usage: Option<Usage>,
    /// `usage` is the gateway's estimate (a stream the provider reported
    /// no usage for).
    pub usage_estimated: bool,
    /// Why a committed stream broke: the serving attempt becomes `stream_cut`.
    pub cut: Option<String>,
    /// The model a stream's first event named (a JSON answer's is read
    /// when it is served, into the draft).
    pub model: Option<String>,
}

/// The decision record, built from the request's context in one place;
/// [`Draft::complete`] adds how it ended. The decision's evidence (one
/// verdict per route and constraint, one line per rule) is rendered on the
/// decision-log writer thread, not on the request path.
#[derive(Debug)]
pub(crate) struct Draft {
    record: DecisionRecord,
    /// The serving route's prices, for the record's cost.
    price: Option<Price>,
    /// A continuing route's prices and what its part of a continued
    /// stream used (priced apart from the first route's part).
    continuation: Option<(Price, Usage)>,
    evidence: Option<(Arc<Runtime>, Box<crate::ctx::Evidence>)>,
}

impl Draft {
    /// Everything the context knows, in the record's shape.
    pub fn of(ctx: &RequestCtx, log: LogFacts) -> Self {
        let cfg = &ctx.runtime.config;
        let route = |i: Option<RouteIdx>| i.and_then(|i| ctx.runtime.route_config(i));
        let served = route(ctx.served_route());
        let prompt_variant = |p: &PromptUse| {
            let target = ctx.runtime.routes.get(ctx.served_route()?)?;
            Some(
                p.variant_name(cfg, target.upstream.kind().family())
                    .to_owned(),
            )
        };
        let record = DecisionRecord {
            request_id: ctx.ids.gateway.clone(),
            caller_request_id: ctx.ids.caller.clone(),
            time_ms: log.time_ms,
            tenant: ctx
                .tenant_config()
                .map_or("-", |t| t.id.as_str())
                .to_owned(),
            policy_version: cfg.version.clone(),
            alias: ctx.alias.as_ref().map(ToString::to_string),
            failure_mode: ctx
                .failure_mode
                .map_or_else(String::new, |m| m.as_str().to_owned()),
            stream: ctx.stream,
            chosen: served.map(|r| r.id.to_string()),
            provider: served.map(|r| r.provider.to_string()),
            // The version the provider answered with; the configured one
            // when it did not say (streams, formats without `model`).
            model_version: log
                .answer_model
                .or_else(|| served.map(|r| r.version.clone())),
            attempts: ctx.attempts.clone(),
            content: log.content,
            skipped: ctx.skipped.clone(),
            operator_actions: operator_actions(ctx),
            degraded: ctx.degraded.iter().map(|s| s.as_str().to_owned()).collect(),
            sticky_route: route(ctx.served.and_then(|s| s.sticky)).map(|r| r.id.to_string()),
            at_most_once: ctx.at_most_once,
            stopped: ctx.stop.and_then(StopReason::describe).map(str::to_owned),
            idempotency: ctx.idempotency.map(|i| i.label().to_owned()),
            privacy: ctx.privacy.clone(),
            translation: ctx.translation.iter().map(translation).collect(),
            trace_id: ctx.trace.as_ref().map(|t| t.trace_id().to_owned()),
            prompt_version: ctx.prompt.as_ref().map(|p| p.label.clone()),
            prompt_variant: ctx.prompt.as_ref().and_then(prompt_variant),
            canary: ctx.canary.clone(),
            reordered: ctx.reordered.clone(),
            ..DecisionRecord::default()
        };
        Self {
            record,
            price: served.map(|r| r.price),
            continuation: None,
            evidence: log
                .evidence
                .map(|evidence| (Arc::clone(&ctx.runtime), evidence)),
        }
    }

    /// A broken stream continued on another route (or tried to be): its
    /// serving attempt is marked cut with the break, the continuation's
    /// attempts and skips follow it, and `priced` (the continuing route's
    /// prices and its part's usage) is costed apart.
    pub fn continued(
        &mut self,
        facts: ContinuedRecord,
        attempts: Vec<AttemptRecord>,
        skipped: Vec<SkipRecord>,
        priced: Option<(Price, Usage)>,
    ) {
        if let Some(last) = self.record.attempts.last_mut() {
            last.outcome = signalbox_core::OutcomeClass::StreamCut;
            last.detail.clone_from(&facts.detail);
        }
        self.record.attempts.extend(attempts);
        self.record.skipped.extend(skipped);
        self.record.continued = Some(facts);
        self.continuation = priced;
    }

    /// Completes the record. The returned closure renders the evidence and
    /// yields the record; the log runs it on its writer thread.
    pub fn complete(self, end: End) -> impl FnOnce() -> DecisionRecord + Send + 'static {
        let Self {
            mut record,
            price,
            continuation,
            evidence,
        } = self;
        if let Some(detail) = end.cut
            && let Some(last) = record.attempts.last_mut()
        {
            last.outcome = signalbox_core::OutcomeClass::StreamCut;
            last.detail = detail;
        }
        if end.model.is_some() {
            record.model_version = end.model;
        }
        record.usage = end.usage;
        record.usage_estimated = end.usage_estimated;
        record.cost_usd = cost(end.usage, price, continuation);
        record.outcome = end.outcome.as_str().to_string();
        record.status = end.status;
        record.error = end.error;
        record.latency_ms = end.latency.as_millis() as u64;
        move || {
            if let Some((rt, evidence)) = evidence {
                let (signals, decision) = &*evidence;
                render_evidence(&mut record, &rt.policy, signals, decision);
            }
            record
        }
    }
}

/// Writes the record of a request that ends now: every request but a
/// served stream, whose tail completes its draft when the stream ends.
pub(crate) fn write_now(
    ctx: &RequestCtx,
    log: LogFacts,
    outcome: Outcome,
    status: u16,
    error: Option<String>,
) {
    let end = End {
        outcome,
        status,
        error,
        latency: ctx.started.elapsed(),
        usage: ctx.usage,
        usage_estimated: false,
        cut: None,
        model: None,
    };
    submit(
        ctx.state.decision_log.as_ref(),
        Draft::of(ctx, log).complete(end),
    );
}

/// The record's cost: the whole usage at the serving route's prices, or,
/// for a continued stream, each part at its own route's.
fn cost(usage: Option<Usage>, price: Option<Price>, second: Option<(Price, Usage)>) -> Option<f64> {
    let (u, p) = (usage?, price?);
    let Some((p2, u2)) = second else {
        return Some(p.cost_usd(u.prompt_tokens, u.completion_tokens));
    };
    let first = p.cost_usd(
        u.prompt_tokens.saturating_sub(u2.prompt_tokens),
        u.completion_tokens.saturating_sub(u2.completion_tokens),
    );
    Some(first + p2.cost_usd(u2.prompt_tokens, u2.completion_tokens))
}

fn translation(n: &TranslationNote) -> TranslationRecord {
    TranslationRecord {
        field: n.field.clone(),
        action: n.action.as_str().to_owned(),
        reason: n.reason.clone(),
    }
}

fn render_evidence(
    record: &mut DecisionRecord,
    snap: &PolicySnapshot,
    signals: &Signals,
    decision: &Decision,
) {
    record.signals = signals.records(snap);
    let trace = decision.trace(snap, signals);
    record.rules = trace.rules;
    record.candidates = trace.candidates;
    record.ranking = trace.ranking;
    record.rule = decision.rule_name(snap).map(str::to_string);
}

/// Keeps one of the gateway's own events (a quality transition, a canary
/// step) in the audit trail, where `what-changed` lists it: written off the
/// request path, a failure only logged.
pub(crate) fn system_event(
    state: &crate::AppState,
    who: &str,
    path: String,
    reason: &str,
    detail: String,
) {
    let Some(log) = state.decision_log.clone() else {
        return;
    };
    let entry = signalbox_decision_log::AuditEntry {
        time_ms: signalbox_core::clock::unix_ms(),
        who: who.to_owned(),
        role: signalbox_decision_log::SYSTEM_ROLE.to_owned(),
        method: "EVENT".into(),
        path,
        action: None,
        reason: Some(reason.to_owned()),
        status: 200,
        detail,
    };
    tokio::spawn(async move {
        if let Err(e) = log.audit(entry).await {
            tracing::warn!(error = %e, "Event not kept in the audit trail.");
        }
    });
}

/// Sends a finished record to the log, if one is configured. Never blocks:
/// a full queue drops the record and counts it.
pub(crate) fn submit(
    log: Option<&DecisionLog>,
    record: impl FnOnce() -> DecisionRecord + Send + 'static,
) {
    if let Some(log) = log
        && !log.record_with(record)
    {
        tracing::debug!("Decision log queue full; record dropped.");
    }
}

/// Every operator action that changed the request: the ones the context
/// noted and the ones its skips name, each once, in order.
pub(crate) fn operator_actions(ctx: &RequestCtx) -> Vec<String> {
    let mut ids = ctx.actions.clone();
    for id in ctx.skipped.iter().filter_map(|s| s.action.as_ref()) {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}
