//! Owns a request rendered for one route ([`Prepared`]): its body, the
//! formats its answer is read in and written for, and the response schema
//! a whole answer must match.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Uri};
use signalbox_adapters::TranslationNote;
use signalbox_core::request::{OutputClamp, WireFormat};

/// A request rendered for one route, reusable across that route's retries.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) body: Bytes,
    pub(crate) stream: bool,
    /// The format the client reads the answer in.
    pub(crate) client: WireFormat,
    /// Native requests: the URL and the adapter's headers (auth, versions).
    pub(crate) native: Option<(Uri, HeaderMap)>,
    /// Fields the translation dropped or changed, for the decision record.
    pub notes: Vec<TranslationNote>,
    /// The caller's output limit, lowered to the route's (`max-output: clamp`).
    pub max_tokens_clamped: Option<OutputClamp>,
    /// The answer's wire format: the client's own when its body was
    /// forwarded natively, else OpenAI's.
    pub(crate) format: WireFormat,
    /// The response schema a whole answer must match, when the request
    /// asked for one (`structured.rs`).
    pub(crate) schema: Option<Arc<jsonschema::Validator>>,
    /// An embeddings request's batches (`embeddings.rs`); `None` for chat.
    pub(crate) embedding: Option<Arc<super::embeddings::EmbedPlan>>,
}

impl Prepared {
    /// Whether the answer is a stream.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// A body forwarded as it is (no adapter, no notes): what another
    /// implementation of the dispatch `Upstream` seam (the scripted
    /// upstream of the dispatch tests) renders.
    pub fn forwarded(body: Bytes, stream: bool) -> Self {
        Self {
            body,
            stream,
            client: WireFormat::OpenAi,
            native: None,
            notes: Vec::new(),
            max_tokens_clamped: None,
            format: WireFormat::OpenAi,
            schema: None,
            embedding: None,
        }
    }

    /// Whether this is an embeddings request ([`crate::HttpUpstream::call_embeddings`]).
    pub fn is_embeddings(&self) -> bool {
        self.embedding.is_some()
    }

    /// The wire format the answer (JSON or stream) is read and passed on in.
    pub fn answer_format(&self) -> WireFormat {
        self.format
    }

    /// The response schema a whole answer must match, if any.
    pub fn response_schema(&self) -> Option<&jsonschema::Validator> {
        self.schema.as_deref()
    }

    /// The same request, its answer not checked against the response
    /// schema (the quality runner scores the raw answer itself).
    pub fn without_response_check(mut self) -> Self {
        self.schema = None;
        self
    }
}
