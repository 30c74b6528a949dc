//! Owns the Cohere kind's registration: its [`ProviderFormat`], and the
//! `Render` and `DecodeStream` impls of its adapter and decoder.

use http::HeaderMap;
use signalbox_core::OutcomeClass;

use super::{CohereAdapter, EventDecoder, parse_error, parse_response};
use crate::adapter::{
    Adapter, Endpoint, ProviderFormat, StreamDecoder, render_without_clock, sse_decoder,
};
use crate::canonical::ChatResponse;
use crate::error::{ProviderError, ResponseError};

/// Cohere's v2 Chat API.
#[derive(Debug)]
pub struct CohereFormat;

/// The registered Cohere format.
pub static FORMAT: CohereFormat = CohereFormat;

impl ProviderFormat for CohereFormat {
    fn name(&self) -> &'static str {
        "cohere"
    }

    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter> {
        Some(Adapter::new(CohereAdapter {
            base_url: endpoint.base_url.clone(),
            api_key: endpoint.api_key.clone(),
        }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        parse_response(body)
    }

    fn parse_error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        parse_error(status, body)
    }

    /// The only stream error Cohere reports is `finish_reason: ERROR`: a
    /// failure on its side.
    fn stream_error_class(&self, _kind: &str) -> OutcomeClass {
        OutcomeClass::ServerError
    }

    /// The kind is Cohere's `finish_reason` value, a code.
    fn stream_error_is_code(&self) -> bool {
        true
    }

    fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(EventDecoder::new())
    }

    fn read_embeddings(
        &self,
        body: &[u8],
        expected: usize,
    ) -> Result<crate::embeddings::EmbeddingAnswer, ResponseError> {
        crate::embeddings::cohere::read_answer(body, expected)
    }

    #[cfg(feature = "mock")]
    fn mock(&self) -> Option<&'static dyn crate::mock::MockWire> {
        Some(&super::mock::Cohere)
    }
}

render_without_clock!(CohereAdapter, FORMAT, embeddings);

sse_decoder!(EventDecoder);
