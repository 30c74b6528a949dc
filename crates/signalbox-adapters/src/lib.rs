//! Owns translation between the canonical chat model and every wire format
//! Signalbox speaks: OpenAI and Anthropic at ingress, and OpenAI (plus the
//! OpenAI-compatible family), Azure OpenAI, Anthropic, Google Gemini, AWS
//! Bedrock and Cohere at egress (one folder per kind, registered from
//! `signalbox_core::provider_kinds!`). Pure functions of their inputs: no I/O, no clocks
//! (callers pass times), no environment reads.
//!
//! - Ingress: [`openai::parse_request`], [`anthropic::parse_request`],
//!   [`responses::parse_request`], [`completions::parse_request`] →
//!   [`ChatRequest`]; answers go back with
//!   [`openai::render_response`] / [`anthropic::render_response`] /
//!   [`responses::render_response`] and the stream encoders
//!   [`openai::SseEncoder`] / [`anthropic::SseEncoder`] /
//!   [`responses::SseEncoder`].
//! - Egress: [`Adapter::render`] → [`Rendered`] (HTTP request plus
//!   [`TranslationNote`]s); [`Adapter::parse_response`],
//!   [`Adapter::parse_error`] and [`Adapter::stream_decoder`] read the answer.
//! - A provider kind is one folder implementing [`ProviderFormat`] (its
//!   adapter, answers, errors, stream decoding and, with the `mock` feature,
//!   the mock provider's side of its wire format), registered by one line of
//!   `signalbox_core::provider_kinds!`; [`format_of`] is generated from it.
//!
//! - Embeddings: [`embeddings::parse_request`] reads the client's body;
//!   [`Adapter::render_embeddings`] / [`Adapter::read_embeddings`] speak a
//!   kind's embeddings API (OpenAI's wire for OpenAI, Azure and
//!   OpenAI-compatible servers, `batchEmbedContents` for Gemini), and
//!   [`embeddings::merge`] writes the client's answer from every batch.
//!
//! See `docs/providers.md` for each adapter's mapping table.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub use signalbox_core::canonical;
pub mod cohere;
pub mod completions;
pub mod embeddings;
pub mod gemini;
#[cfg(feature = "mock")]
pub mod mock;
pub mod openai;
pub mod responses;

mod adapter;
mod error;
mod note;
mod reasoning;
mod route;
pub mod structured;
mod turns;
pub mod unsupported;

pub use adapter::{
    Adapter, AwsEndpoint, DecodeStream, EmbeddingsBody, Endpoint, ProviderFormat, Render,
    StreamDecoder, format_of,
};
pub use canonical::{
    ChatRequest, ChatResponse, Choice, Dialect, Image, ImageSource, Message, Part, ReasoningEffort,
    ResponseFormat, Role, Sampling, StopReason, StreamEvent, Tool, ToolCall, ToolChoice,
    ToolResult, Usage,
};
pub use error::{ProviderError, ResponseError, StreamError, TranslateError};
pub use note::{NoteAction, TranslationNote};
pub use route::{
    ContentFilter, EmbeddingRoute, Rendered, Retention, RouteSettings, Secret, UpstreamRequest,
};
pub use signalbox_core::RequestError;

/// Deserialises a request body, naming the failing field's path.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RequestError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return RequestError::Syntax(inner.to_string());
        }
        let field = if path == "." {
            "(body)".to_owned()
        } else {
            path
        };
        RequestError::Invalid {
            field,
            problem: inner.to_string(),
        }
    })
}
