//! Owns the Anthropic Messages wire format: request parsing, `message` bodies, the streaming
//! event sequence and Anthropic's error shape.

mod parse;
mod render;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use http::StatusCode;

pub(crate) use render::models_body;

use crate::mock::Answer;
use crate::mock::{MockRequest, MockWire, Parsed};

/// The Anthropic dialect.
pub struct Anthropic;

/// What rendering needs from a request.
pub(crate) type AnthropicRequest = MockRequest;

impl MockWire for Anthropic {
    fn chat_paths(&self) -> &'static [&'static str] {
        &["/v1/messages"]
    }

    fn models_paths(&self) -> &'static [&'static str] {
        &["/v1/models"]
    }

    fn models_body(&self, _mock_name: &str) -> Option<Bytes> {
        models_body().ok()
    }

    fn parse(&self, body: &[u8]) -> Result<Parsed<AnthropicRequest>, String> {
        parse::parse(body)
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Bytes {
        render::error_body(status, message)
    }

    fn render_body(
        &self,
        request: &AnthropicRequest,
        answer: &Answer,
        n: u64,
    ) -> serde_json::Result<Bytes> {
        render::body(request, answer, n)
    }

    fn render_events(
        &self,
        request: &AnthropicRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        render::events(request, answer, n, pieces)
    }

    fn malformed_body(&self) -> Bytes {
        Bytes::from_static(br#"{"id": "msg_broken", "content": ["#)
    }

    fn malformed_events(&self) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"event: message_start\ndata: {not json\n\n"),
            Bytes::from_static(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        ]
    }
}
