//! Owns the Bedrock kind's registration: its [`ProviderFormat`], and the
//! [`Render`] and [`DecodeStream`] impls of its adapter and event-stream
//! decoder.

use std::time::SystemTime;

use http::HeaderMap;
use signalbox_core::OutcomeClass;

use super::{BedrockAdapter, StreamDecoder as EventStreamDecoder, parse_error, parse_response};
use crate::adapter::{Adapter, DecodeStream, Endpoint, ProviderFormat, Render, StreamDecoder};
use crate::canonical::{ChatRequest, ChatResponse, StreamEvent};
use crate::error::{ProviderError, ResponseError, StreamError, TranslateError};
use crate::route::{Rendered, RouteSettings};

/// AWS Bedrock Converse (SigV4).
#[derive(Debug)]
pub struct BedrockFormat;

/// The registered Bedrock format.
pub static FORMAT: BedrockFormat = BedrockFormat;

impl ProviderFormat for BedrockFormat {
    fn name(&self) -> &'static str {
        "bedrock"
    }

    /// `None` without AWS settings (the configuration requires them).
    fn stream_accept(&self) -> &'static str {
        "application/vnd.amazon.eventstream"
    }

    fn adapter_needs(&self) -> Option<&'static str> {
        Some("AWS credentials")
    }

    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter> {
        let aws = endpoint.aws.as_ref()?;
        Some(Adapter::new(BedrockAdapter {
            region: aws.region.clone(),
            endpoint: Some(endpoint.base_url.clone()),
            credentials: aws.credentials.clone(),
        }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        parse_response(body)
    }

    fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let kind = headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok());
        parse_error(status, kind, body)
    }

    fn stream_error_class(&self, kind: &str) -> OutcomeClass {
        super::stream_error_class(kind)
    }

    /// Bedrock names an error by its exception code.
    fn stream_error_is_code(&self) -> bool {
        true
    }

    fn read_embeddings(
        &self,
        body: &[u8],
        expected: usize,
    ) -> Result<crate::embeddings::EmbeddingAnswer, ResponseError> {
        crate::embeddings::bedrock::read_answer(body, expected)
    }

    fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(EventStreamDecoder::new())
    }

    /// Embeddings only (`/model/{id}/invoke`): Converse is not mocked.
    #[cfg(feature = "mock")]
    fn mock(&self) -> Option<&'static dyn crate::mock::MockWire> {
        Some(&super::mock::Bedrock)
    }
}

impl Render for BedrockAdapter {
    fn format(&self) -> &'static dyn ProviderFormat {
        &FORMAT
    }

    fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Result<Rendered, TranslateError> {
        BedrockAdapter::render(self, req, route, now)
    }

    fn render_embeddings(
        &self,
        body: &crate::adapter::EmbeddingsBody<'_>,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Option<Result<crate::route::UpstreamRequest, TranslateError>> {
        Some(BedrockAdapter::render_embeddings(self, body, route, now))
    }
}

impl DecodeStream for EventStreamDecoder {
    fn is_sse(&self) -> bool {
        false
    }

    fn limit_event_bytes(&mut self, max: usize) {
        self.limit_message_bytes(max);
    }

    fn on_sse(
        &mut self,
        _event: Option<&str>,
        _data: &str,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        Err(StreamError::Framing(
            "Bedrock streams are binary: use on_bytes",
        ))
    }

    fn on_bytes(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        EventStreamDecoder::on_bytes(self, bytes)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        EventStreamDecoder::finish(self).map(|()| Vec::new())
    }
}
