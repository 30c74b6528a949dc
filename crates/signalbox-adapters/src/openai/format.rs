//! Owns the OpenAI-compatible kind's registration: its [`ProviderFormat`],
//! and the [`Render`] and [`DecodeStream`] impls of its adapter and decoder.

use http::HeaderMap;
use signalbox_core::{OpenAiQuirks, OutcomeClass};

use super::{ChunkDecoder, OpenAiAdapter, parse_error, parse_response};
use crate::adapter::{
    Adapter, Endpoint, ProviderFormat, StreamDecoder, render_without_clock, sse_decoder,
};
use crate::canonical::ChatResponse;
use crate::error::{ProviderError, ResponseError};

/// The OpenAI chat-completions API and compatible servers.
#[derive(Debug)]
pub struct OpenAiFormat;

/// The registered OpenAI-compatible format.
pub static FORMAT: OpenAiFormat = OpenAiFormat;

impl ProviderFormat for OpenAiFormat {
    /// Without quirks, requests go upstream as the caller sent them.
    fn adapter_needs(&self) -> Option<&'static str> {
        None
    }

    fn name(&self) -> &'static str {
        "openai"
    }

    /// Without quirks the gateway forwards the caller's body untranslated.
    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter> {
        if endpoint.quirks == OpenAiQuirks::default() {
            return None;
        }
        Some(Adapter::new(OpenAiAdapter {
            base_url: endpoint.base_url.clone(),
            api_key: endpoint.api_key.clone(),
            quirks: endpoint.quirks.clone(),
        }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        parse_response(body)
    }

    fn parse_error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        parse_error(status, body)
    }

    fn stream_error_class(&self, kind: &str) -> OutcomeClass {
        stream_error_class(kind)
    }

    fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(ChunkDecoder::new())
    }

    #[cfg(feature = "mock")]
    fn mock(&self) -> Option<&'static dyn crate::mock::MockWire> {
        Some(&super::mock::OpenAi)
    }
}

/// The class of an OpenAI-format stream error event (also Azure's).
pub(crate) fn stream_error_class(kind: &str) -> OutcomeClass {
    if kind.contains("rate_limit") {
        OutcomeClass::RateLimited
    } else {
        OutcomeClass::ServerError
    }
}

render_without_clock!(OpenAiAdapter, FORMAT, embeddings, responses);

sse_decoder!(ChunkDecoder);
