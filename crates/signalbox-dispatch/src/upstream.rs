//! Owns the seam between the attempt loop and a provider: the [`Upstream`]
//! trait. An upstream renders a request for a route ([`Upstream::prepare`])
//! and makes one call ([`Upstream::call`]), answering a whole JSON chat
//! completion or the stream's raw OpenAI SSE bytes ([`Answer`]).
//!
//! Everything that decides whether an answer is good enough to commit to
//! stays in the attempt loop, above this seam: framing the stream, checking
//! each event, the error event under a 200, the first-event deadline and
//! the stall guards. So the hyper client (`signalbox_providers::HttpUpstream`)
//! and the in-memory scripted upstream the unit tests use are held to the
//! same commit point.
//!
//! One call is one boxed future: the trait is used as `Arc<dyn Upstream>`,
//! and an attempt costs one allocation for it (next to the request's own).

use std::future::Future;
use std::pin::Pin;

use signalbox_config::{ProviderKind, Timeouts};
use signalbox_core::{ChatRequest, WireFormat};
use signalbox_providers::{
    ByteStream, CallContext, ChatJson, PrepareError, Prepared, RouteSettings, SseFramer,
    UpstreamError,
};

/// A boxed, sendable future (one per upstream call).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A provider's 2xx answer, before the attempt loop judges it.
pub enum Answer {
    /// A whole, checked JSON chat completion.
    Json(ChatJson),
    /// The streamed answer as OpenAI SSE byte chunks; nothing of it has
    /// been read yet, so it is not committed to.
    Events(ByteStream),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(j) => f.debug_tuple("Json").field(j).finish(),
            Self::Events(_) => f.write_str("Events(..)"),
        }
    }
}

/// One provider endpoint as the attempt loop sees it.
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// The provider's wire protocol (its family picks prompt variants).
    fn kind(&self) -> ProviderKind;

    /// The provider's timeouts (first-event deadline, stall guards).
    fn timeouts(&self) -> &Timeouts;

    /// Renders `req` for a route of this provider; an error means the
    /// route cannot carry the request (another route may).
    fn prepare(
        &self,
        req: &ChatRequest,
        settings: &RouteSettings,
    ) -> Result<Prepared, PrepareError>;

    /// Sends a prepared request and answers once the call is 2xx: the whole
    /// body for JSON, the unread event bytes for a stream. Any other
    /// outcome is a classified error.
    fn call<'a>(
        &'a self,
        prepared: &'a Prepared,
        call: &'a CallContext<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>>;

    /// A framer for this provider's stream, capped at its event size.
    fn sse_framer(&self) -> SseFramer;

    /// The failure a stream's first event reports, if it is an error event
    /// (an error under a 200 is a failure until something reached the
    /// caller), read in the stream's wire `format`.
    fn first_event_error(&self, format: WireFormat, data: &str) -> Option<UpstreamError>;
}

impl Upstream for signalbox_providers::HttpUpstream {
    fn kind(&self) -> ProviderKind {
        Self::kind(self)
    }

    fn timeouts(&self) -> &Timeouts {
        Self::timeouts(self)
    }

    fn prepare(
        &self,
        req: &ChatRequest,
        settings: &RouteSettings,
    ) -> Result<Prepared, PrepareError> {
        Self::prepare(self, req, settings)
    }

    fn call<'a>(
        &'a self,
        prepared: &'a Prepared,
        call: &'a CallContext<'a>,
    ) -> BoxFuture<'a, Result<Answer, UpstreamError>> {
        Box::pin(async move {
            // Embeddings: every batch sent, answered as one list.
            if prepared.is_embeddings() {
                return self.call_embeddings(prepared, call).await.map(Answer::Json);
            }
            let resp = self.send(prepared, call).await?;
            if prepared.is_stream() {
                let events = self.events(resp, prepared);
                // A structured output is checked whole before any of it
                // is released: a bad one fails over like a JSON answer.
                return match prepared.response_schema() {
                    None => Ok(Answer::Events(events)),
                    Some(schema) => {
                        let framer = self.sse_framer();
                        let format = prepared.answer_format();
                        signalbox_providers::check_stream(
                            schema,
                            events,
                            framer,
                            format,
                            self.timeouts(),
                        )
                        .await
                        .map(Answer::Events)
                    }
                };
            }
            let json = self.read_json(resp).await?;
            // An answer that breaks its response schema is a bad answer:
            // the next route is tried.
            if let Some(schema) = prepared.response_schema() {
                signalbox_providers::check_answer(schema, &json)?;
            }
            Ok(Answer::Json(json))
        })
    }

    fn sse_framer(&self) -> SseFramer {
        Self::sse_framer(self)
    }

    fn first_event_error(&self, format: WireFormat, data: &str) -> Option<UpstreamError> {
        Self::first_event_error(self, format, data)
    }
}
