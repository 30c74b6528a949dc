//! Owns the OpenAI chat-completions wire format: request parsing, JSON bodies and SSE chunks;
//! and the Responses API beside it (`responses.rs`), which OpenAI and Azure serve too.

mod embeddings;
mod errors;
mod parse;
mod render;
mod responses;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use http::{StatusCode, Uri};

pub(crate) use render::models_body;

use crate::mock::Answer;
use crate::mock::{MockRequest, MockWire, Parsed};

/// The OpenAI dialect.
pub struct OpenAi;

/// What rendering needs from a request.
pub(crate) type OpenAiRequest = MockRequest;

impl MockWire for OpenAi {
    fn chat_paths(&self) -> &'static [&'static str] {
        &[
            "/v1/chat/completions",
            "/chat/completions",
            // Azure OpenAI addresses a deployment; the body is OpenAI's.
            "/openai/deployments/{deployment}/chat/completions",
            // The Responses API (Azure's v1 path too): `responses.rs`.
            "/v1/responses",
            "/responses",
            "/openai/v1/responses",
        ]
    }

    fn models_paths(&self) -> &'static [&'static str] {
        &["/v1/models", "/models"]
    }

    fn embeddings_paths(&self) -> &'static [&'static str] {
        &[
            "/v1/embeddings",
            "/embeddings",
            "/openai/deployments/{deployment}/embeddings",
        ]
    }

    fn is_embeddings(&self, uri: &Uri) -> bool {
        uri.path().ends_with("/embeddings")
    }

    fn render_embeddings(&self, _uri: &Uri, body: &[u8]) -> Result<Bytes, String> {
        embeddings::render(body)
    }

    fn models_body(&self, mock_name: &str) -> Option<Bytes> {
        models_body(mock_name).ok()
    }

    fn base_path(&self) -> &'static str {
        "/v1"
    }

    fn parse(&self, body: &[u8]) -> Result<Parsed<OpenAiRequest>, String> {
        parse::parse(body)
    }

    fn parse_request(&self, uri: &Uri, body: &[u8]) -> Result<Parsed<OpenAiRequest>, String> {
        if uri.path().ends_with("/responses") {
            responses::parse(body)
        } else {
            parse::parse(body)
        }
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Bytes {
        errors::error_body(status, message)
    }

    fn render_body(
        &self,
        request: &OpenAiRequest,
        answer: &Answer,
        n: u64,
    ) -> serde_json::Result<Bytes> {
        if request.responses {
            return Ok(responses::body(request, answer, n));
        }
        render::body(request, answer, n)
    }

    fn render_events(
        &self,
        request: &OpenAiRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        if request.responses {
            return Ok(responses::events(request, answer, n, pieces));
        }
        render::events(request, answer, n, pieces)
    }

    fn malformed_body(&self) -> Bytes {
        Bytes::from_static(br#"{"id": "chatcmpl-broken", "choices": ["#)
    }

    fn malformed_events(&self) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"data: {not json\n\n"),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ]
    }
}
