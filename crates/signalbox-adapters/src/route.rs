//! Owns what an adapter needs to know about the route it renders for, and
//! the upstream HTTP request it produces.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::error::TranslateError;
use crate::note::TranslationNote;

/// Data retention the route declares (the policy's posture check reads it too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Retention {
    /// Whatever the provider account does.
    #[default]
    ProviderDefault,
    /// Nothing stored beyond the request: adapters send the provider's
    /// no-storage flag (OpenAI `store: false`) or note that none exists.
    None,
}

/// The content-filter strictness the route declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentFilter {
    /// Block nothing.
    Off,
    /// Block only high-probability harm.
    Low,
    /// Block medium and high probability.
    Medium,
    /// Block low, medium and high probability.
    High,
}

/// Per-route settings an adapter applies while rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSettings {
    /// The provider's model (or Azure deployment, or Bedrock model id).
    pub upstream_model: String,
    /// The route's output limit: used when the provider requires
    /// `max_tokens` and the client set none, and as a ceiling otherwise.
    pub max_output_tokens: Option<u32>,
    /// Declared retention.
    pub retention: Retention,
    /// Declared content filter, when any.
    pub content_filter: Option<ContentFilter>,
    /// The model's context window in tokens, when declared: after a
    /// provider reports a context overflow, only routes with a larger
    /// window are tried.
    pub context_window: Option<u32>,
    /// Embedding routes: their batch size and vector length; `None` for
    /// chat routes.
    pub embedding: Option<EmbeddingRoute>,
    /// The provider serves the OpenAI Responses API for this model: a
    /// Responses request still carrying the client's own body is passed
    /// through to it (`endpoint: [chat, responses]`).
    pub responses: bool,
    /// The route declares `supports.reasoning`: a reasoning effort is
    /// sent as a thinking budget to kinds that spell it so (Anthropic,
    /// Gemini, Bedrock); without it they drop the effort with a note.
    pub reasoning: bool,
}

/// What an embedding route's record tells the upstream client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingRoute {
    /// Most inputs per upstream call (larger requests are split).
    pub max_batch: u32,
    /// Length of every vector the route must answer with (a vector of
    /// another length is a bad answer, and the next route is tried).
    pub dimensions: u32,
}

impl RouteSettings {
    /// Settings for `upstream_model` with provider defaults.
    pub fn new(upstream_model: impl Into<String>) -> Self {
        Self {
            upstream_model: upstream_model.into(),
            max_output_tokens: None,
            retention: Retention::ProviderDefault,
            content_filter: None,
            context_window: None,
            embedding: None,
            responses: false,
            reasoning: false,
        }
    }

    /// The client's `max_tokens` capped by the route's limit.
    pub(crate) fn max_tokens(&self, requested: Option<u32>) -> Option<u32> {
        match (requested, self.max_output_tokens) {
            (Some(r), Some(cap)) => Some(r.min(cap)),
            (r, cap) => r.or(cap),
        }
    }
}

/// An upstream request, ready for an HTTP client.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    /// Always `POST` for chat.
    pub method: Method,
    /// Full URL, query included.
    pub url: String,
    /// Headers: content type, authentication, versions.
    pub headers: HeaderMap,
    /// JSON body.
    pub body: Vec<u8>,
    /// Whether the answer is a stream (SSE, or event-stream for Bedrock).
    pub stream: bool,
}

/// A rendered request plus what the translation did to the fields.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The HTTP request to send.
    pub request: UpstreamRequest,
    /// Fields dropped or translated, for the decision record.
    pub notes: Vec<TranslationNote>,
}

impl UpstreamRequest {
    /// A JSON `POST` to `url` with `body`.
    pub(crate) fn post_json(url: String, body: Vec<u8>, stream: bool) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Self {
            method: Method::POST,
            url,
            headers,
            body,
            stream,
        }
    }

    /// Adds a header, refusing values that are not valid header text (e.g.
    /// a key with a newline), without echoing the value.
    pub(crate) fn header(&mut self, name: &'static str, value: &str) -> Result<(), TranslateError> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| TranslateError::Http(format!("header `{name}` has an invalid value")))?;
        self.headers.insert(HeaderName::from_static(name), value);
        Ok(())
    }

    /// Marks a value sensitive so that it never shows in debug output.
    pub(crate) fn secret_header(
        &mut self,
        name: &'static str,
        value: &str,
    ) -> Result<(), TranslateError> {
        self.header(name, value)?;
        if let Some(v) = self.headers.get_mut(name) {
            v.set_sensitive(true);
        }
        Ok(())
    }
}

/// Joins a base URL and a path without doubling or losing the slash.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Percent-encodes one URL path segment (RFC 3986 unreserved kept).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Serialises a JSON body; a `serde_json::Value` tree cannot fail to encode,
/// but the error is still typed rather than unwrapped.
pub(crate) fn to_body(value: &impl serde::Serialize) -> Result<Vec<u8>, TranslateError> {
    serde_json::to_vec(value).map_err(|e| TranslateError::Http(format!("encoding the body: {e}")))
}

pub use signalbox_core::Secret;
