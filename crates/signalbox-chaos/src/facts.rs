//! Owns what a run observed, as plain data the invariant checks read: every
//! request as the client saw it, every decision record, every upstream call
//! as the mocks logged it, the routes' placement and the fault timeline as
//! applied. The checks never talk to the gateway; tests build these by hand.

use std::collections::HashMap;
use std::time::Duration;

use signalbox_config::{ContentFilter, Retention};
use signalbox_core::DecisionRecord;
use signalbox_mock::{CallOutcome, Faults};

/// Everything one run observed.
#[derive(Debug, Default)]
pub struct Facts {
    /// Requests in the order they were started.
    pub requests: Vec<RequestFact>,
    /// Decision records by the caller's request id.
    pub records: HashMap<String, DecisionRecord>,
    /// Upstream calls of every mock, in arrival order.
    pub calls: Vec<UpstreamCall>,
    /// The policy's routes.
    pub routes: Vec<RouteFact>,
    /// The policy's tenants' placement constraints.
    pub tenants: Vec<TenantFact>,
    /// Fault changes as applied, in time order.
    pub steps: Vec<AppliedStep>,
    /// Reloads and Redis stops and starts as applied, in time order.
    pub actions: Vec<AppliedAction>,
    /// The largest attempt budget of any alias or rule.
    pub attempt_budget: u32,
    /// Requests allowed in flight by the load.
    pub concurrency: usize,
    /// The check after the run, when one was asked for.
    pub healthy_after: Option<HealthCheck>,
}

/// What one request was and what came back.
#[derive(Debug, Clone, Default)]
pub struct RequestFact {
    /// The `x-request-id` sent (unique per request).
    pub id: String,
    /// When it was started, from the start of the load.
    pub sent_at: Duration,
    /// Until the answer's head arrived.
    pub head_after: Option<Duration>,
    /// Until the answer's body ended (or the request failed).
    pub elapsed: Duration,
    /// The load's tenant name.
    pub tenant: String,
    /// Whether it asked for a stream.
    pub stream: bool,
    /// Its `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
    /// Whether it said `x-signalbox-irreversible: true`.
    pub irreversible: bool,
    /// What came back.
    pub answer: Answer,
}

/// A response as the client read it.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The status, or `None` when no head arrived.
    pub status: Option<u16>,
    /// Why no (whole) answer was read: a transport error or the client's timeout.
    pub failure: Option<String>,
    /// `x-signalbox-request-id`.
    pub gateway_id: Option<String>,
    /// `x-signalbox-route`.
    pub route: Option<String>,
    /// `x-signalbox-attempts`.
    pub attempts: Option<u32>,
    /// `x-signalbox-degraded`, split at commas.
    pub degraded_header: Vec<String>,
    /// `x-signalbox-idempotent-replay: true`.
    pub replay: bool,
    /// What the body held.
    pub body: BodyFacts,
}

/// What a body held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyFacts {
    /// A JSON chat completion with a choice.
    pub completion: bool,
    /// A JSON error of the OpenAI shape (`error.message` and `error.type`).
    pub error_shape: bool,
    /// That error's `code`, when it has one.
    pub error_code: Option<String>,
    /// The `signalbox.degraded` marker (JSON body, or a stream's first event).
    pub marker: Vec<String>,
    /// A stream's facts, when it was one.
    pub stream: Option<StreamFacts>,
}

/// How a stream ended on the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamFacts {
    /// Events with a JSON object.
    pub events: u32,
    /// `data: [DONE]` arrived.
    pub done: bool,
    /// A choice carried a `finish_reason`.
    pub finished: bool,
    /// An event carried an `error` object.
    pub error_event: bool,
    /// An event that was not JSON.
    pub unreadable_event: bool,
    /// The body broke off (or the client gave up) instead of ending.
    pub broke: bool,
}

/// One call a mock logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCall {
    /// The mock.
    pub upstream: String,
    /// When it arrived, from the start of the load.
    pub at: Duration,
    /// The request id it carried.
    pub request_id: Option<String>,
    /// What the mock did.
    pub outcome: CallOutcome,
}

/// A route's placement.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteFact {
    /// Route id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Retention.
    pub retention: Retention,
    /// Content filter.
    pub content_filter: ContentFilter,
    /// The mock behind it, when it is one.
    pub upstream: Option<String>,
    /// Its breaker's `open-for`.
    pub open_for: Duration,
}

/// A tenant's placement constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantFact {
    /// Tenant id.
    pub id: String,
    /// Allowed regions (all when empty).
    pub allowed_regions: Vec<String>,
    /// Required retention.
    pub require_retention: Option<Retention>,
    /// Required content filter.
    pub require_content_filter: Option<ContentFilter>,
}

/// A fault change as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedStep {
    /// When, from the start of the load.
    pub at: Duration,
    /// The mock.
    pub upstream: String,
    /// Its faults from then on.
    pub faults: Faults,
}

/// A reload, or a Redis stop or start, as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedAction {
    /// When, from the start of the load.
    pub at: Duration,
    /// Which: `reload`, `redis stop`, `redis start`.
    pub action: &'static str,
    /// What came of it (a reload: `reloaded …` or `unchanged …`), or why it failed.
    pub result: Result<String, String>,
}

/// The fresh request after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Whether one succeeded in time.
    pub ok: bool,
    /// What the last try got.
    pub detail: String,
}

impl Facts {
    /// The route with this id.
    pub fn route(&self, id: &str) -> Option<&RouteFact> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// The record of a request.
    pub fn record(&self, request: &RequestFact) -> Option<&DecisionRecord> {
        self.records.get(&request.id)
    }
}

impl RequestFact {
    /// Whether the caller got a complete, successful answer.
    pub fn succeeded(&self) -> bool {
        let a = &self.answer;
        let ok_status = a.status.is_some_and(|s| (200..300).contains(&s));
        if !ok_status || a.failure.is_some() {
            return false;
        }
        match &a.body.stream {
            Some(s) => s.done && !s.error_event && !s.broke && !s.unreadable_event,
            None => a.body.completion,
        }
    }

    /// Its outcome class for the report.
    pub fn class(&self) -> OutcomeClass {
        let a = &self.answer;
        let Some(status) = a.status else {
            return OutcomeClass::NoAnswer;
        };
        if self.succeeded() {
            return if a.degraded_header.is_empty() {
                OutcomeClass::Ok
            } else {
                OutcomeClass::Degraded
            };
        }
        match &a.body.stream {
            Some(s) if (200..300).contains(&status) => {
                if s.error_event {
                    OutcomeClass::StreamError
                } else {
                    OutcomeClass::Truncated
                }
            }
            _ if a.failure.is_some() => OutcomeClass::NoAnswer,
            _ if (400..500).contains(&status) => OutcomeClass::Error4xx,
            _ if status >= 500 => OutcomeClass::Error5xx,
            _ => OutcomeClass::Malformed,
        }
    }
}

/// How a request ended, for the report's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeClass {
    /// A complete answer.
    Ok,
    /// A complete answer from a degraded path (marked).
    Degraded,
    /// A 4xx error.
    Error4xx,
    /// A 5xx error.
    Error5xx,
    /// A stream ended by the gateway's error event.
    StreamError,
    /// A 200 stream that ended without its end marker or an error event.
    Truncated,
    /// A 2xx body that was not a chat completion.
    Malformed,
    /// No status, or the body never finished (transport error, client timeout).
    NoAnswer,
}

impl OutcomeClass {
    /// Every class, in report order.
    pub const ALL: [Self; 8] = [
        Self::Ok,
        Self::Degraded,
        Self::Error4xx,
        Self::Error5xx,
        Self::StreamError,
        Self::Truncated,
        Self::Malformed,
        Self::NoAnswer,
    ];

    /// The class's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Error4xx => "4xx",
            Self::Error5xx => "5xx",
            Self::StreamError => "stream-error",
            Self::Truncated => "truncated",
            Self::Malformed => "malformed",
            Self::NoAnswer => "no-answer",
        }
    }
}
