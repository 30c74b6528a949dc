//! Owns the record stage: assembling the decision record as the request
//! moves through the pipeline, finishing it however the request ends, and
//! handing it to the decision-log writer without ever waiting on it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signalbox_core::{AttemptRecord, DecisionRecord, SkipRecord, Usage};
use signalbox_decision_log::DecisionLog;
use std::sync::Arc;

use signalbox_policy::{Decision, PolicySnapshot, Signals};

use crate::runtime::Runtime;

/// How a request ended, for the record's `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
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
    fn as_str(self) -> &'static str {
        match self {
            Self::Served => "served",
            Self::Refused => "refused",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The decision record under construction. The decision's evidence (one
/// verdict string per route and constraint, one line per rule) is rendered
/// on the decision-log writer thread, not on the request path.
#[derive(Debug)]
pub struct RecordBuilder {
    record: DecisionRecord,
    log_content: bool,
    serving_route: Option<usize>,
    evidence: Option<(Arc<Runtime>, Signals, Decision)>,
}

impl RecordBuilder {
    /// Starts a record for a request that arrived now, keyed by the
    /// gateway's id and noting the caller's `x-request-id`.
    pub fn start(
        request_id: String,
        caller_request_id: Option<String>,
        policy_version: &str,
    ) -> Self {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            record: DecisionRecord {
                request_id,
                caller_request_id,
                time_ms,
                tenant: "-".to_string(),
                policy_version: policy_version.to_string(),
                ..DecisionRecord::default()
            },
            log_content: false,
            serving_route: None,
            evidence: None,
        }
    }

    /// Notes the tenant (and whether it allows content logging).
    pub fn tenant(&mut self, snap: &PolicySnapshot, tenant: usize) {
        if let Some(t) = snap.config().tenants.get(tenant) {
            self.record.tenant = t.id.clone();
            self.log_content = t.log_content;
        }
    }

    /// Notes the signals and the decision; their evidence is rendered later.
    pub fn decision(&mut self, rt: &Arc<Runtime>, signals: &Signals, decision: &Decision) {
        self.record.alias = Some(decision.alias.to_string());
        self.record.stream = signals.stream;
        self.record.failure_mode = decision.failure_mode.as_str().to_string();
        self.evidence = Some((rt.clone(), signals.clone(), decision.clone()));
    }

    /// Keeps the request body, only if the tenant allows content logging.
    pub fn request_content(&mut self, body: &serde_json::Map<String, serde_json::Value>) {
        if self.log_content {
            self.record.content = Some(serde_json::json!({ "request": body.get("messages") }));
        }
    }

    /// Keeps the completion body, only if the tenant allows content logging.
    pub fn response_content(&mut self, body: &[u8]) {
        if !self.log_content {
            return;
        }
        if let (Some(content), Ok(v)) = (
            self.record.content.as_mut(),
            serde_json::from_slice::<serde_json::Value>(body),
        ) {
            // An OpenAI completion's choices, or (passed on untranslated to
            // an Anthropic client) an Anthropic message's content blocks.
            let answer = v.get("choices").or_else(|| v.get("content"));
            content["response"] = answer.cloned().unwrap_or(serde_json::Value::Null);
        }
    }

    /// Notes the attempts and the serving route.
    pub fn attempts(&mut self, rt: &Runtime, attempts: &[AttemptRecord], served_by: Option<usize>) {
        self.record.attempts = attempts.to_vec();
        self.serving_route = served_by;
        if let Some(r) = served_by.and_then(|i| rt.config.routes.get(i)) {
            self.record.chosen = Some(r.id.to_string());
            self.record.provider = Some(r.provider.to_string());
            self.record.model_version = Some(r.version.clone());
        }
    }

    /// Notes how resilience shaped the request: skipped routes, the
    /// degradation steps taken, the sticky route, at-most-once handling.
    pub fn resilience(
        &mut self,
        rt: &Runtime,
        skipped: &[SkipRecord],
        degraded: &[&str],
        sticky: Option<usize>,
        at_most_once: bool,
    ) {
        self.record.skipped = skipped.to_vec();
        self.record.degraded = degraded.iter().map(|s| (*s).to_owned()).collect();
        self.record.sticky_route = sticky
            .and_then(|i| rt.config.routes.get(i))
            .map(|r| r.id.to_string());
        self.record.at_most_once = at_most_once;
    }

    /// Marks the serving attempt `stream_cut`: its stream broke after the
    /// caller had the first event.
    pub fn stream_cut(&mut self, detail: &str) {
        if let Some(last) = self.record.attempts.last_mut() {
            last.outcome = signalbox_core::OutcomeClass::StreamCut;
            last.detail = detail.to_owned();
        }
    }

    /// Notes the W3C trace id the request belongs to.
    pub fn trace(&mut self, trace_id: &str) {
        self.record.trace_id = Some(trace_id.to_owned());
    }

    /// Notes the registered prompt used and the variant the serving route got.
    pub fn prompt(&mut self, label: &str, variant: Option<&str>) {
        self.record.prompt_version = Some(label.to_owned());
        self.record.prompt_variant = variant.map(str::to_owned);
    }

    /// Notes what translating for the serving provider dropped or changed.
    pub fn translation(&mut self, notes: &[signalbox_providers::TranslationNote]) {
        self.record.translation = notes
            .iter()
            .map(|n| signalbox_core::TranslationRecord {
                field: n.field.clone(),
                action: n.action.as_str().to_owned(),
                reason: n.reason.clone(),
            })
            .collect();
    }

    /// Notes what the privacy boundaries found and did (counts only).
    pub fn privacy(&mut self, report: serde_json::Value) {
        self.record.privacy = Some(report);
    }

    /// Notes why the attempt loop stopped early.
    pub fn stopped(&mut self, why: Option<&str>) {
        self.record.stopped = why.map(str::to_owned);
    }

    /// Notes `executed` or `replayed` for an idempotent request.
    pub fn idempotency(&mut self, what: &str) {
        self.record.idempotency = Some(what.to_owned());
    }

    /// Notes usage and prices it with the serving route's price table.
    pub fn usage(&mut self, rt: &Runtime, usage: Option<Usage>) {
        self.record.usage = usage;
        if let (Some(u), Some(r)) = (
            usage,
            self.serving_route.and_then(|i| rt.config.routes.get(i)),
        ) {
            self.record.cost_usd = Some(r.price.cost_usd(u.prompt_tokens, u.completion_tokens));
        }
    }

    /// Completes the record. The returned closure renders the evidence and
    /// yields the record; the log runs it on its writer thread.
    pub fn finish(
        mut self,
        outcome: Outcome,
        status: u16,
        error: Option<String>,
        latency: Duration,
    ) -> impl FnOnce() -> DecisionRecord + Send + 'static {
        self.record.outcome = outcome.as_str().to_string();
        self.record.status = status;
        self.record.error = error;
        self.record.latency_ms = latency.as_millis() as u64;
        let Self {
            mut record,
            evidence,
            ..
        } = self;
        move || {
            if let Some((rt, signals, decision)) = evidence {
                render_evidence(&mut record, &rt.policy, &signals, &decision);
            }
            record
        }
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

/// Sends a finished record to the log, if one is configured. Never blocks:
/// a full queue drops the record and counts it.
pub fn submit(log: Option<&DecisionLog>, record: impl FnOnce() -> DecisionRecord + Send + 'static) {
    if let Some(log) = log
        && !log.record_with(record)
    {
        tracing::debug!("Decision log queue full; record dropped.");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_answer_is_kept_in_either_wire_format() {
        for (body, want) in [
            (json!({"choices": [{"index": 0}]}), json!([{"index": 0}])),
            (
                json!({"type": "message", "content": [{"type": "thinking"}]}),
                json!([{"type": "thinking"}]),
            ),
        ] {
            let mut b = RecordBuilder::start("r".into(), None, "v");
            b.log_content = true;
            b.request_content(&serde_json::Map::new());
            b.response_content(body.to_string().as_bytes());
            let content = b.record.content.unwrap_or_default();
            assert_eq!(content["response"], want);
        }
    }
}
