//! Owns the Anthropic kind's registration: its [`ProviderFormat`], and the
//! [`Render`] and [`DecodeStream`] impls of its adapter and decoder.

use http::HeaderMap;
use signalbox_core::OutcomeClass;

use super::{AnthropicAdapter, EventDecoder, error_class, parse_error, parse_response};
use crate::adapter::{
    Adapter, Endpoint, ProviderFormat, StreamDecoder, render_without_clock, sse_decoder,
};
use crate::canonical::ChatResponse;
use crate::error::{ProviderError, ResponseError};

/// The Anthropic Messages API.
#[derive(Debug)]
pub struct AnthropicFormat;

/// The registered Anthropic format.
pub static FORMAT: AnthropicFormat = AnthropicFormat;

impl ProviderFormat for AnthropicFormat {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter> {
        Some(Adapter::new(AnthropicAdapter {
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

    fn stream_error_class(&self, kind: &str) -> OutcomeClass {
        error_class(None, Some(kind))
    }

    fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(EventDecoder::new())
    }

    #[cfg(feature = "mock")]
    fn mock(&self) -> Option<&'static dyn crate::mock::MockWire> {
        Some(&super::mock::Anthropic)
    }
}

render_without_clock!(AnthropicAdapter, FORMAT);

sse_decoder!(EventDecoder);
