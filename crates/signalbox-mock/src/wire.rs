//! Owns the seam between the fault/server logic and a provider's wire format.

use axum::http::{StatusCode, Uri};
use bytes::Bytes;

use crate::answer::{Answer, Prompt};

/// A request parsed by a wire format: what the answer depends on, plus what rendering needs.
pub(crate) struct Parsed<R> {
    /// Format-specific request data kept for rendering (model name, usage options, …).
    pub(crate) request: R,
    /// Format-neutral summary the answer is computed from.
    pub(crate) prompt: Prompt,
    /// Whether the client asked for a stream.
    pub(crate) stream: bool,
}

/// A provider API dialect (OpenAI, Anthropic, Gemini).
pub(crate) trait WireFormat: Send + Sync + 'static {
    /// Data kept from the request for rendering.
    type Request: Send;

    /// Parses a chat request body; `Err` carries the message of a 400 answer.
    fn parse(body: &[u8]) -> Result<Parsed<Self::Request>, String>;

    /// Parses a request whose path also carries data (Gemini puts the model and the
    /// streaming choice there); by default only the body matters.
    fn parse_request(_uri: &Uri, body: &[u8]) -> Result<Parsed<Self::Request>, String> {
        Self::parse(body)
    }

    /// The JSON body of an error answer with `status`.
    fn error_body(status: StatusCode, message: &str) -> Bytes;

    /// The JSON body of a non-streaming answer to the `n`-th request.
    fn render_body(request: &Self::Request, answer: &Answer, n: u64) -> serde_json::Result<Bytes>;

    /// The complete SSE events of a streamed answer (each `data: …\n\n`), content split into
    /// at most `pieces` chunks.
    fn render_events(
        request: &Self::Request,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>>;

    /// A 200 body that is not valid JSON.
    fn malformed_body() -> Bytes;

    /// SSE events carrying invalid JSON, ending like a normal stream.
    fn malformed_events() -> Vec<Bytes>;
}
