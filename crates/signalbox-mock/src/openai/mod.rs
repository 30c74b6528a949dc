//! Owns the OpenAI chat-completions wire format: request parsing, JSON bodies and SSE chunks.

mod errors;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use axum::http::StatusCode;
use bytes::Bytes;

pub(crate) use render::models_body;

use crate::answer::Answer;
use crate::wire::{Parsed, WireFormat};

/// The OpenAI dialect.
pub(crate) struct OpenAi;

/// What rendering needs from an OpenAI request.
pub(crate) struct OpenAiRequest {
    model: String,
    include_usage: bool,
}

impl WireFormat for OpenAi {
    type Request = OpenAiRequest;

    fn parse(body: &[u8]) -> Result<Parsed<OpenAiRequest>, String> {
        parse::parse(body)
    }

    fn error_body(status: StatusCode, message: &str) -> Bytes {
        errors::error_body(status, message)
    }

    fn render_body(request: &OpenAiRequest, answer: &Answer, n: u64) -> serde_json::Result<Bytes> {
        render::body(request, answer, n)
    }

    fn render_events(
        request: &OpenAiRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        render::events(request, answer, n, pieces)
    }

    fn malformed_body() -> Bytes {
        Bytes::from_static(br#"{"id": "chatcmpl-broken", "choices": ["#)
    }

    fn malformed_events() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"data: {not json\n\n"),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ]
    }
}
