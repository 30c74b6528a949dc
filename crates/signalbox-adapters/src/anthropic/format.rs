//! Owns the Anthropic kind's registration: its [`ProviderFormat`], and the
//! [`Render`] and [`DecodeStream`] impls of its adapter and decoder.

use std::time::SystemTime;

use http::HeaderMap;
use signalbox_core::OutcomeClass;
use signalbox_core::request::{NativeBody, WireFormat};

use super::{AnthropicAdapter, EventDecoder, error_class, parse_error, parse_response};
use crate::adapter::{Adapter, Endpoint, ProviderFormat, Render, StreamDecoder, sse_decoder};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::{ProviderError, ResponseError, TranslateError};
use crate::route::{Rendered, RouteSettings, UpstreamRequest};

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

impl Render for AnthropicAdapter {
    fn format(&self) -> &'static dyn ProviderFormat {
        &FORMAT
    }

    fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
        _now: SystemTime,
    ) -> Result<Rendered, TranslateError> {
        AnthropicAdapter::render(self, req, route)
    }

    /// An Anthropic client's own body goes to an Anthropic route as it is.
    fn forward_native(
        &self,
        native: &NativeBody,
        body: Vec<u8>,
        stream: bool,
    ) -> Option<Result<UpstreamRequest, TranslateError>> {
        (native.format == WireFormat::Anthropic)
            .then(|| self.forward(body, stream, native.beta.as_deref()))
    }
}

sse_decoder!(EventDecoder);
