//! Owns the mock provider's side of the Cohere v2 Chat format: `POST
//! /v2/chat` requests, answers with `message.content` blocks or
//! `tool_calls`, the SSE event sequence and Cohere's error body.

mod embeddings;
mod parse;
mod render;

use bytes::Bytes;
use http::{StatusCode, Uri};

use crate::mock::{Answer, MockRequest, MockWire, Parsed};

/// The Cohere dialect.
#[derive(Debug)]
pub struct Cohere;

impl MockWire for Cohere {
    fn chat_paths(&self) -> &'static [&'static str] {
        &["/v2/chat"]
    }

    fn embeddings_paths(&self) -> &'static [&'static str] {
        &["/v2/embed"]
    }

    fn is_embeddings(&self, uri: &Uri) -> bool {
        uri.path() == "/v2/embed"
    }

    fn render_embeddings(&self, _uri: &Uri, body: &[u8]) -> Result<Bytes, String> {
        embeddings::render(body)
    }

    fn parse(&self, body: &[u8]) -> Result<Parsed<MockRequest>, String> {
        parse::parse(body)
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Bytes {
        render::error_body(status, message)
    }

    fn render_body(
        &self,
        request: &MockRequest,
        answer: &Answer,
        n: u64,
    ) -> serde_json::Result<Bytes> {
        render::body(request, answer, n)
    }

    fn render_events(
        &self,
        request: &MockRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        render::events(request, answer, n, pieces)
    }

    fn malformed_body(&self) -> Bytes {
        Bytes::from_static(br#"{"id": "mock-broken", "message": {"content": ["#)
    }

    fn malformed_events(&self) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"event: content-delta\ndata: {not json\n\n"),
            Bytes::from_static(
                b"event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\"}}\n\n",
            ),
        ]
    }
}
