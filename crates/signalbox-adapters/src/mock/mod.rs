//! Owns the seam between the mock provider's fault/server logic (the
//! `signalbox-mock` crate) and a provider's wire format: the [`MockWire`]
//! trait each kind's `mock` module implements, and the format-neutral
//! [`Answer`] the mock gives. Compiled with the `mock` feature only.

mod answer;
pub mod embedding;

use bytes::Bytes;
use http::{StatusCode, Uri};

pub use answer::{
    Answer, AnswerBody, Prompt, TOOL_ARGUMENTS, TOOL_CALL_ID, count_words, split_pieces,
};

/// What rendering needs from a request, whatever its format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockRequest {
    /// The model the request named.
    pub model: String,
    /// Whether usage was asked for in the stream (OpenAI `stream_options`).
    pub include_usage: bool,
    /// Extended thinking was asked for (Anthropic `thinking`): the answer
    /// opens with a signed `thinking` block, as the real API's does.
    pub thinking: bool,
    /// The request came to the Responses API (`/v1/responses`): the answer
    /// is a Response object or the Responses event stream.
    pub responses: bool,
}

/// A request parsed by a wire format: what the answer depends on, plus what rendering needs.
#[derive(Debug)]
pub struct Parsed<R = MockRequest> {
    /// Format-specific request data kept for rendering (model name, usage options, …).
    pub request: R,
    /// Format-neutral summary the answer is computed from.
    pub prompt: Prompt,
    /// Whether the client asked for a stream.
    pub stream: bool,
}

/// The mock provider's side of one wire format: which paths it serves, how
/// it reads a chat request, and how it writes answers, streams and errors.
pub trait MockWire: Send + Sync + 'static {
    /// The `POST` paths of chat requests (axum syntax, `{param}` segments).
    fn chat_paths(&self) -> &'static [&'static str];

    /// The `GET` paths listing models, if the API has them.
    fn models_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// The body listing `mock_name`'s models.
    fn models_body(&self, _mock_name: &str) -> Option<Bytes> {
        None
    }

    /// The path a client's base URL ends with (OpenAI's `/v1`).
    fn base_path(&self) -> &'static str {
        ""
    }

    /// Parses a chat request body; `Err` carries the message of a 400 answer.
    fn parse(&self, body: &[u8]) -> Result<Parsed<MockRequest>, String>;

    /// Parses a request whose path also carries data (Gemini puts the model and the
    /// streaming choice there); by default only the body matters.
    fn parse_request(&self, _uri: &Uri, body: &[u8]) -> Result<Parsed<MockRequest>, String> {
        self.parse(body)
    }

    /// The JSON body of an error answer with `status`.
    fn error_body(&self, status: StatusCode, message: &str) -> Bytes;

    /// The JSON body of a non-streaming answer to the `n`-th request.
    fn render_body(
        &self,
        request: &MockRequest,
        answer: &Answer,
        n: u64,
    ) -> serde_json::Result<Bytes>;

    /// The complete SSE events of a streamed answer (each `data: …\n\n`), content split into
    /// at most `pieces` chunks.
    fn render_events(
        &self,
        request: &MockRequest,
        answer: &Answer,
        n: u64,
        pieces: u32,
    ) -> serde_json::Result<Vec<Bytes>>;

    /// The `POST` paths of embeddings requests (axum syntax) beside the
    /// chat paths (a kind whose embeddings share a chat path says so in
    /// [`MockWire::is_embeddings`] only).
    fn embeddings_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether a request to `uri` asks for embeddings.
    fn is_embeddings(&self, _uri: &Uri) -> bool {
        false
    }

    /// The JSON body answering an embeddings request ([`embedding`]'s
    /// deterministic vectors); `Err` carries the message of a 400 answer.
    fn render_embeddings(&self, _uri: &Uri, _body: &[u8]) -> Result<Bytes, String> {
        Err("mock: this wire format serves no embeddings".to_owned())
    }

    /// A 200 body that is not valid JSON.
    fn malformed_body(&self) -> Bytes;

    /// SSE events carrying invalid JSON, ending like a normal stream.
    fn malformed_events(&self) -> Vec<Bytes>;
}

impl std::fmt::Debug for dyn MockWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockWire")
            .field("chat_paths", &self.chat_paths())
            .finish()
    }
}
