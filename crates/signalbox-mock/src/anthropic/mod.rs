//! Owns the Anthropic Messages wire format: request parsing, `message` bodies, the streaming
//! event sequence and Anthropic's error shape.

mod parse;
mod render;
#[cfg(test)]
mod tests;

use axum::http::StatusCode;
use bytes::Bytes;

pub(crate) use render::models_body;

use crate::answer::Answer;
use crate::wire::{Parsed, WireFormat};

/// The Anthropic dialect.
pub(crate) struct Anthropic;

/// What rendering needs from an Anthropic request.
pub(crate) struct AnthropicRequest {
    model: String,
    /// Extended thinking was asked for: the answer opens with a signed
    /// `thinking` block, as the real API's does.
    thinking: bool,
}

impl WireFormat for Anthropic {
    type Request = AnthropicRequest;

    fn parse(body: &[u8]) -> Result<Parsed<AnthropicRequest>, String> {
        parse::parse(body)
    }

    fn error_body(status: StatusCode, message: &str) -> Bytes {
        render::error_body(status, message)
    }

    fn render_body(
        request: &AnthropicRequest,
        answer: &Answer,
        n: u64,
    ) -> serde_json::Result<Bytes> {
        render::body(request, answer, n)
    }

    fn render_events(
        request: &AnthropicRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        render::events(request, answer, n, pieces)
    }

    fn malformed_body() -> Bytes {
        Bytes::from_static(br#"{"id": "msg_broken", "content": ["#)
    }

    fn malformed_events() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"event: message_start\ndata: {not json\n\n"),
            Bytes::from_static(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        ]
    }
}
