//! Owns the request context: everything one chat request has learned on
//! its way through the pipeline, in one place (pingora's per-request `CTX`).
//! Stages fill it in; `finish` derives the response headers, the decision
//! record, the metrics and the span's attributes from it, so they cannot
//! disagree. Dropped before `finish` (the caller went away and the handler
//! future with it), it still writes the request's record, status 499.

use std::sync::Arc;

use axum::http::HeaderMap;
use signalbox_config::{DegradeStep, FailureMode, TenantConfig};
use signalbox_core::RouteIdx;
use signalbox_core::request::OutputClamp;
use signalbox_core::{AliasName, AttemptRecord, SkipRecord, Usage, WireFormat};
use signalbox_dispatch::StopReason;
use signalbox_policy::{Decision, Signals};
use signalbox_providers::TranslationNote;
use tokio::time::Instant;

use crate::AppState;
use crate::idempotency::Claim;
use crate::ingress::RequestIds;
use crate::prompt::PromptUse;
use crate::record::{Outcome, write_now};
use crate::runtime::Runtime;
use crate::trace::TraceContext;
use crate::trace::genai::Sampling;

/// What a record renders its rules, candidates and signals from: the
/// first round's signals and decision (boxed: kept for the whole request).
pub(crate) type Evidence = (Signals, Decision);

/// One chat request's context, from arrival to its record.
pub(crate) struct RequestCtx {
    /// The gateway.
    pub state: Arc<AppState>,
    /// The configuration the request runs under, loaded once at arrival.
    pub runtime: Arc<Runtime>,
    /// The gateway's id, the caller's, and the one echoed.
    pub ids: RequestIds,
    /// When the request arrived.
    pub started: Instant,
    /// The request's span: `Span::none()` unless spans are exported.
    pub span: tracing::Span,
    /// What only the decision record needs, while the decision log is on
    /// and the record is not yet written or handed to a stream; `None`
    /// otherwise, so a gateway without a log does no record work.
    pub log: Option<LogFacts>,
    /// The authenticated tenant (index into the configuration's tenants).
    pub tenant: Option<usize>,
    /// The alias the policy decided on.
    pub alias: Option<AliasName>,
    /// The decided rule's failure mode.
    pub failure_mode: Option<FailureMode>,
    /// The wire format the caller speaks (its endpoint's): the answer,
    /// stream events and errors are written in it.
    pub client: WireFormat,
    /// The caller asked for a stream.
    pub stream: bool,
    /// The caller asked for a usage chunk at the end of its stream.
    pub stream_usage: bool,
    /// What the `Idempotency-Key` did, when one was sent.
    pub idempotency: Option<Idempotency>,
    /// Ownership of the idempotency key, until the response is stored.
    pub claim: Option<Claim>,
    /// The registered prompt the request uses.
    pub prompt: Option<PromptUse>,
    /// The W3C trace the request belongs to.
    pub trace: Option<TraceContext>,
    /// The caller's sampling parameters, kept only for the span.
    pub sampling: Option<Sampling>,
    /// Every upstream attempt of every round, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Every route skipped, in order, with why.
    pub skipped: Vec<SkipRecord>,
    /// Warned routes moved after the others, with the order tried.
    pub reordered: Option<Box<signalbox_core::ReorderRecord>>,
    /// Degradation steps taken, in order.
    pub degraded: Vec<DegradeStep>,
    /// The request was handled at most once (irreversible).
    pub at_most_once: bool,
    /// Why the attempt loop stopped, when the request failed.
    pub stop: Option<StopReason>,
    /// What the privacy boundaries found and did (counts only).
    pub privacy: Option<serde_json::Value>,
    /// What translating for the serving provider dropped or changed.
    pub translation: Vec<TranslationNote>,
    /// The serving route, or on failure the last route tried.
    pub route: Option<RouteIdx>,
    /// Set when a route served the request.
    pub served: Option<ServedFacts>,
    /// What the answer used (JSON answers; a stream's is known at its end).
    pub usage: Option<Usage>,
    /// Ids of the operator actions that changed the request's routing
    /// (besides the ones its skips name).
    pub actions: Vec<String>,
    /// `on-stream-break: continue`, armed for a stream of such an alias.
    pub continuation: Option<Box<crate::continuation::Continuation>>,
    /// The canary arm the request got, and why.
    pub canary: Option<String>,
}

/// What the serving route's answer adds to the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServedFacts {
    /// The session's sticky route, when a session was given.
    pub sticky: Option<RouteIdx>,
    /// The caller's output limit, lowered to the serving route's.
    pub max_tokens_clamped: Option<OutputClamp>,
}

/// What only the decision record needs.
pub(crate) struct LogFacts {
    /// Wall-clock arrival, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The signals and decision; their evidence is rendered on the log's
    /// writer thread, not on the request path.
    pub evidence: Option<Box<Evidence>>,
    /// Request messages and answer choices, when the tenant allows
    /// content logging.
    pub content: Option<serde_json::Value>,
    /// The model the provider says answered (its answer's `model`), the
    /// record's `model_version` when it said.
    pub answer_model: Option<String>,
}

/// What an `Idempotency-Key` did with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// This request ran; its answer is stored for replays.
    Executed,
    /// An earlier answer was replayed.
    Replayed,
}

impl Idempotency {
    /// The record's and the metric's word for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Executed => "executed",
            Self::Replayed => "replayed",
        }
    }
}

impl RequestCtx {
    /// The context of a request in the `client` format that arrived now.
    pub fn new(state: Arc<AppState>, headers: &HeaderMap, client: WireFormat) -> Self {
        let started = Instant::now();
        let runtime = state.runtime.load_full();
        let ids = RequestIds::new(headers);
        let span = crate::trace::request_span(
            headers,
            ids.echo(),
            ids.gateway_header.to_str().unwrap_or("-"),
        );
        let log = state.decision_log.as_ref().map(|_| LogFacts {
            time_ms: signalbox_core::clock::unix_ms(),
            evidence: None,
            content: None,
            answer_model: None,
        });
        Self {
            state,
            runtime,
            ids,
            started,
            span,
            log,
            tenant: None,
            alias: None,
            failure_mode: None,
            client,
            stream: false,
            stream_usage: false,
            idempotency: None,
            claim: None,
            prompt: None,
            trace: None,
            sampling: None,
            attempts: Vec::new(),
            skipped: Vec::new(),
            reordered: None,
            degraded: Vec::new(),
            at_most_once: false,
            stop: None,
            privacy: None,
            translation: Vec::new(),
            route: None,
            served: None,
            usage: None,
            actions: Vec::new(),
            continuation: None,
            canary: None,
        }
    }

    /// The id echoed as `x-request-id` and sent upstream.
    pub fn request_id(&self) -> &str {
        self.ids.echo()
    }

    /// The authenticated tenant's configuration.
    pub fn tenant_config(&self) -> Option<&TenantConfig> {
        self.tenant.and_then(|t| self.runtime.config.tenants.get(t))
    }

    /// The tenant's id, `-` before authentication.
    pub fn tenant_id(&self) -> &str {
        self.tenant_config().map_or("-", |t| t.id.as_str())
    }

    /// The route that served the request.
    pub fn served_route(&self) -> Option<RouteIdx> {
        self.served.and(self.route)
    }
}

impl Drop for RequestCtx {
    /// The caller went away before the response head: the handler future
    /// was dropped with its context, and the record says so (status 499,
    /// as nginx logs it).
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            let error = "client closed the connection before the response";
            write_now(self, log, Outcome::Cancelled, 499, Some(error.to_string()));
        }
    }
}
