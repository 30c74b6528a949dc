//! Owns everything provider-specific: building the HTTP client for a
//! provider, rendering and sending a chat request, classifying what came back
//! (so retry and failover decisions are right), and framing SSE streams.
//!
//! The OpenAI-compatible kind is forwarded as is; every other kind (Azure
//! OpenAI, Anthropic, Gemini, Bedrock, Cohere) goes through its
//! `signalbox-adapters` adapter, and its answers come back in the OpenAI
//! shape (`native`) — except an Anthropic client's request to an Anthropic
//! route, and a Responses client's request to a route serving the
//! Responses API, which go and come back as the client and provider wrote
//! them (`upstream/passthrough.rs`).

mod chunk;
pub mod classify;
mod client;
mod native;
pub mod scrub;
pub mod sse;
mod structured;
mod upstream;

pub use chunk::{ByteStream, Chunk};
pub use classify::UpstreamError;
pub use scrub::Scrubber;
pub use signalbox_adapters::anthropic::usage_of_event as anthropic_usage_of_event;
/// Reading a Responses stream passed through (its end, failures, usage).
pub use signalbox_adapters::responses::{
    EventKind as ResponsesEventKind, event_kind as responses_event_kind,
    failure_of as responses_failure_of, usage_of_event as responses_usage_of_event,
};
pub use signalbox_adapters::{ContentFilter, Retention, RouteSettings, TranslationNote};
pub use sse::{DEFAULT_MAX_EVENT_BYTES, EventTooLarge, SseEvent, SseFramer};
pub use structured::{check_answer, check_stream};
pub use upstream::{
    AnswerHead, AnswerModel, CallContext, ChatJson, HttpUpstream, MAX_RESPONSE_BYTES, PrepareError,
    Prepared, UpstreamBuildError, model_named,
};
