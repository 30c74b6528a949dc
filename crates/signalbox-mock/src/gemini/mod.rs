//! Owns the Google Gemini wire format: `generateContent` / `streamGenerateContent?alt=sse`
//! requests (model and streaming choice in the path), responses, and Google's error shape.

mod parse;
mod render;
#[cfg(test)]
mod tests;

use axum::http::{StatusCode, Uri};
use bytes::Bytes;

use crate::answer::Answer;
use crate::wire::{Parsed, WireFormat};

/// The Gemini dialect.
pub(crate) struct Gemini;

/// What rendering needs from a Gemini request.
pub(crate) struct GeminiRequest {
    model: String,
}

impl WireFormat for Gemini {
    type Request = GeminiRequest;

    /// A body alone says neither model nor streaming: answered as a non-streamed `mock-model`.
    fn parse(body: &[u8]) -> Result<Parsed<GeminiRequest>, String> {
        parse::parse(body, "mock-model", false)
    }

    fn parse_request(uri: &Uri, body: &[u8]) -> Result<Parsed<GeminiRequest>, String> {
        let (model, stream) = parse::target(uri)?;
        parse::parse(body, model, stream)
    }

    fn error_body(status: StatusCode, message: &str) -> Bytes {
        render::error_body(status, message)
    }

    fn render_body(request: &GeminiRequest, answer: &Answer, n: u64) -> serde_json::Result<Bytes> {
        render::body(request, answer, n)
    }

    fn render_events(
        request: &GeminiRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        render::events(request, answer, n, pieces)
    }

    fn malformed_body() -> Bytes {
        Bytes::from_static(br#"{"candidates": ["#)
    }

    fn malformed_events() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"data: {not json\n\n"),
            Bytes::from_static(
                b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"\"}]},\"finishReason\":\"STOP\",\"index\":0}]}\n\n",
            ),
        ]
    }
}
