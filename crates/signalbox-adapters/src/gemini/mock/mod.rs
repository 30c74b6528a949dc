//! Owns the Google Gemini wire format: `generateContent` / `streamGenerateContent?alt=sse`
//! requests (model and streaming choice in the path), responses, and Google's error shape.

mod embeddings;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use http::{StatusCode, Uri};

use crate::mock::Answer;
use crate::mock::{MockRequest, MockWire, Parsed};

/// The Gemini dialect.
pub struct Gemini;

/// What rendering needs from a request.
pub(crate) type GeminiRequest = MockRequest;

impl MockWire for Gemini {
    /// `{call}` is `{model}:generateContent` or `{model}:streamGenerateContent`.
    fn chat_paths(&self) -> &'static [&'static str] {
        &["/v1beta/models/{call}", "/v1/models/{call}"]
    }

    /// A body alone says neither model nor streaming: answered as a non-streamed `mock-model`.
    fn parse(&self, body: &[u8]) -> Result<Parsed<GeminiRequest>, String> {
        parse::parse(body, "mock-model", false)
    }

    fn parse_request(&self, uri: &Uri, body: &[u8]) -> Result<Parsed<GeminiRequest>, String> {
        let (model, stream) = parse::target(uri)?;
        parse::parse(body, model, stream)
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Bytes {
        render::error_body(status, message)
    }

    /// `{call}` is `{model}:batchEmbedContents`.
    fn is_embeddings(&self, uri: &Uri) -> bool {
        uri.path().ends_with(":batchEmbedContents")
    }

    fn render_embeddings(&self, _uri: &Uri, body: &[u8]) -> Result<Bytes, String> {
        embeddings::render(body)
    }

    fn render_body(
        &self,
        request: &GeminiRequest,
        answer: &Answer,
        n: u64,
    ) -> serde_json::Result<Bytes> {
        render::body(request, answer, n)
    }

    fn render_events(
        &self,
        request: &GeminiRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        render::events(request, answer, n, pieces)
    }

    fn malformed_body(&self) -> Bytes {
        Bytes::from_static(br#"{"candidates": ["#)
    }

    fn malformed_events(&self) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"data: {not json\n\n"),
            Bytes::from_static(
                b"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"\"}]},\"finishReason\":\"STOP\",\"index\":0}]}\n\n",
            ),
        ]
    }
}
