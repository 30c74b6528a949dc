//! Owns a stream's tail: what happens when a committed stream ends,
//! however it ends — its spend charged to the route(s) that produced it,
//! its span's last attribute, and its record completed from the draft
//! `finish` built when the response began. A stream continued on another
//! route (`on-stream-break: continue`) ends here once, with both parts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::HeaderValue;
use signalbox_core::{AttemptRecord, ContinuedRecord, RouteIdx, SkipRecord, Usage};
use signalbox_dispatch::{StreamEnd, StreamOutcome};

use crate::AppState;
use crate::budget::StreamCharge;
use crate::record::{Draft, End, Outcome, submit};
use crate::runtime::Runtime;

/// What a stream needs when it ends: its spend, its span's last attribute
/// and its record, drafted from the context when the response began.
pub(crate) struct StreamTail {
    pub state: Arc<AppState>,
    pub runtime: Arc<Runtime>,
    /// The serving route.
    pub route: RouteIdx,
    pub request_id: HeaderValue,
    pub span: tracing::Span,
    pub charge: StreamCharge,
    /// The record's latency: until the first event.
    pub first_event: Duration,
    pub record: Option<Draft>,
    /// Raised when the stream is cut (before its error event goes out).
    pub cut: Option<Arc<AtomicBool>>,
}

/// How the continuation of a broken stream went.
#[derive(Debug)]
pub(crate) struct ContinuedEnd {
    /// For the record: both routes, the break, the prefill's length.
    pub facts: ContinuedRecord,
    /// The continuing route and how its stream ended (`None`: no route
    /// continued it; the caller got the break's error event).
    pub second: Option<(RouteIdx, StreamEnd)>,
    /// The continuation's attempts and skips.
    pub attempts: Vec<AttemptRecord>,
    pub skipped: Vec<SkipRecord>,
}

/// How a stream ended, for the span, the status and the record.
struct Ending {
    label: &'static str,
    status: u16,
    error: Option<String>,
    cut: Option<String>,
}

impl StreamTail {
    /// The stream ended (no continuation).
    pub(crate) fn end(self, end: StreamEnd) {
        self.settle(end, None);
    }

    /// The stream ended; `continued`: it broke and was continued (or a
    /// continuation was tried and failed).
    pub(crate) fn settle(mut self, first: StreamEnd, continued: Option<ContinuedEnd>) {
        let mut ending = self.ending(self.route, &first.outcome);
        let (mut usage, mut estimated) = self.spend(self.route, &first);
        // The cut the record's last attempt takes: the continuation marks
        // the first stream's break itself, ahead of its own attempts.
        let mut record_cut = ending.cut.clone();
        if let Some(c) = continued {
            record_cut = None;
            let mut priced = None;
            if let Some((to, second)) = &c.second {
                ending = self.ending(*to, &second.outcome);
                if ending.label == "completed" {
                    ending.label = "continued";
                }
                record_cut.clone_from(&ending.cut);
                let (part, part_estimated) = self.spend(*to, second);
                let price = self.runtime.route_config(*to).map(|r| r.price);
                priced = price.zip(part);
                usage = sum(usage, part);
                estimated |= part_estimated;
            }
            if let Some(draft) = self.record.as_mut() {
                draft.continued(c.facts, c.attempts, c.skipped, priced);
            }
        }
        if ending.cut.is_some()
            && let Some(cut) = &self.cut
        {
            cut.store(true, Ordering::Relaxed);
        }
        // The span's gen_ai usage is the provider's report, never a guess.
        let reported = usage.filter(|_| !estimated);
        crate::trace::genai::stream_ended(&self.span, ending.label, reported);
        if let Some(draft) = self.record {
            let end = End {
                outcome: Outcome::Served,
                status: ending.status,
                error: ending.error,
                latency: self.first_event,
                usage,
                usage_estimated: estimated,
                cut: record_cut,
                // The first route's: the one the record names as serving.
                model: first.model,
            };
            submit(self.state.decision_log.as_ref(), draft.complete(end));
        }
    }

    /// How one route's stream ended; a cut is counted against the route.
    fn ending(&self, route: RouteIdx, outcome: &StreamOutcome) -> Ending {
        let request_id = self.request_id.to_str().unwrap_or("-");
        let name = self.runtime.routes.get(route).map_or("", |r| r.id.as_str());
        match outcome {
            StreamOutcome::Completed => Ending {
                label: "completed",
                status: 200,
                error: None,
                cut: None,
            },
            StreamOutcome::Cancelled => {
                tracing::debug!(%request_id, route = %name, "Client went away; upstream stream cancelled.");
                Ending {
                    label: "cancelled",
                    status: 499,
                    error: Some("client closed the stream".to_string()),
                    cut: None,
                }
            }
            StreamOutcome::Cut { detail } => {
                if let Some(m) = self.runtime.routes.get(route).map(|r| &r.ext.metrics) {
                    m.stream_errors.increment(1);
                }
                tracing::warn!(%request_id, route = %name, %detail, "Stream interrupted after commit.");
                Ending {
                    label: "cut",
                    status: 200,
                    error: Some(format!("stream interrupted: {detail}")),
                    cut: Some(detail.clone()),
                }
            }
        }
    }

    /// Charges what one route's stream used, however it ended: the usage
    /// the provider reported, else the gateway's estimate (a stream cut
    /// before its usage, or one that never carried it), which the record
    /// keeps too, marked estimated (`true`).
    fn spend(&self, route: RouteIdx, end: &StreamEnd) -> (Option<Usage>, bool) {
        let (usage, estimated) = match end.usage {
            Some(u) => (u, false),
            None => (self.charge.estimate(end.events), true),
        };
        let tenant = self.runtime.config.tenants.get(self.charge.tenant);
        crate::budget::charge(&self.state, &self.runtime, tenant, route, Some(usage));
        (Some(usage), estimated)
    }
}

/// Both parts' usage (a part that reported none adds nothing).
fn sum(a: Option<Usage>, b: Option<Usage>) -> Option<Usage> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Usage {
            prompt_tokens: a.prompt_tokens + b.prompt_tokens,
            completion_tokens: a.completion_tokens + b.completion_tokens,
        }),
        (a, b) => a.or(b),
    }
}
