//! Owns the Gemini kind's registration: its [`ProviderFormat`], and the
//! [`Render`] and [`DecodeStream`] impls of its adapter and decoder.

use http::HeaderMap;
use signalbox_core::{OutcomeClass, ProviderKind};

use super::{ChunkDecoder, GeminiAdapter, parse_error, parse_response};
use crate::adapter::{
    Adapter, DecodeStream, Endpoint, ProviderFormat, StreamDecoder, render_without_clock,
};
use crate::canonical::{ChatResponse, StreamEvent};
use crate::error::{ProviderError, ResponseError, StreamError};

/// Google Gemini (`generateContent`).
#[derive(Debug)]
pub struct GeminiFormat;

/// The registered Gemini format.
pub static FORMAT: GeminiFormat = GeminiFormat;

impl ProviderFormat for GeminiFormat {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter> {
        let default = ProviderKind::Gemini
            .settings()
            .api_version
            .unwrap_or("v1beta");
        Some(Adapter::new(GeminiAdapter {
            base_url: endpoint.base_url.clone(),
            api_version: endpoint
                .api_version
                .clone()
                .unwrap_or_else(|| default.to_owned()),
            api_key: endpoint.api_key.clone(),
        }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        parse_response(body)
    }

    fn parse_error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        parse_error(status, body)
    }

    fn stream_error_class(&self, kind: &str) -> OutcomeClass {
        if kind == "RESOURCE_EXHAUSTED" {
            OutcomeClass::RateLimited
        } else {
            OutcomeClass::ServerError
        }
    }

    /// Gemini names an error by its status code (`RESOURCE_EXHAUSTED`).
    fn stream_error_is_code(&self) -> bool {
        true
    }

    fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(ChunkDecoder::new())
    }

    fn read_embeddings(
        &self,
        body: &[u8],
        expected: usize,
    ) -> Result<crate::embeddings::EmbeddingAnswer, ResponseError> {
        crate::embeddings::gemini::read_answer(body, expected)
    }

    #[cfg(feature = "mock")]
    fn mock(&self) -> Option<&'static dyn crate::mock::MockWire> {
        Some(&super::mock::Gemini)
    }
}

render_without_clock!(GeminiAdapter, FORMAT, embeddings);

impl DecodeStream for ChunkDecoder {
    fn on_sse(
        &mut self,
        _event: Option<&str>,
        data: &str,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        self.on_data(data)
    }

    /// Flushes the usage Gemini sends before its last chunk.
    fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        Ok(ChunkDecoder::finish(self))
    }
}
