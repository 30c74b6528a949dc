//! Owns one provider endpoint: its connection pool, credentials, timeouts
//! and wire format. `prepare` renders a request for a route (once per
//! route, reused by its retries), `send` resolves when the response head
//! arrives (bounded by the first-byte timeout) and turns every non-2xx
//! answer into a classified [`UpstreamError`]. `read_json` gives a whole
//! answer in the OpenAI shape whatever the provider spoke (or as an
//! Anthropic provider wrote it, on the same-family path); `events` gives a
//! stream as the provider's bytes when the client reads that format, else
//! as typed events for the gateway's edge to encode.
//!
//! The OpenAI-compatible kind without quirks forwards the caller's body
//! with only the model swapped (and `store: false` on zero-retention
//! routes): no translation on the common path. An Anthropic-format
//! request still carrying the client's own body goes to an Anthropic
//! provider the same way (model swapped, `anthropic-beta` passed on), and
//! its answer is passed back untranslated ([`Prepared::answer_format`]).
//! Every other case goes through its `signalbox-adapters` adapter.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use http_body_util::Full;
use hyper::body::Incoming;
use signalbox_adapters::{
    Adapter, NoteAction, ProviderFormat, Retention, RouteSettings, TranslateError, TranslationNote,
};
use signalbox_config::{ProviderConfig, ProviderKind, Timeouts};
use signalbox_core::request::{OutputClamp, WireFormat};
use signalbox_core::{ChatRequest, ProviderName, Usage};
use thiserror::Error;
use tokio::time::Instant;

use crate::chunk::ByteStream;
use crate::classify::{UpstreamError, rate_limit_reset, truncate};
use crate::client::{self, Pools};
use crate::native;
use crate::scrub::Scrubber;
use crate::sse::SseFramer;

#[cfg(test)]
use answer_model::model_at;
pub use answer_model::{AnswerModel, model_named};
#[cfg(test)]
use read::ResponseShape;

/// Largest non-streaming response body accepted from a provider.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Sent upstream so provider logs can be joined with ours.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Who is calling, for the headers that join provider logs and traces with
/// ours.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallContext<'a> {
    /// Sent as `x-request-id`.
    pub request_id: Option<&'a HeaderValue>,
    /// W3C `traceparent` naming the gateway's span, if tracing.
    pub traceparent: Option<&'a HeaderValue>,
    /// The caller's `tracestate`, passed on with `traceparent`.
    pub tracestate: Option<&'a HeaderValue>,
}
/// Largest error body read to explain a failure.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Why an upstream client could not be built from its configuration.
#[derive(Debug, Error)]
pub enum UpstreamBuildError {
    /// The base URL does not form a valid endpoint URL.
    #[error("provider {provider}: invalid endpoint URL: {reason}")]
    Url {
        /// The provider's name.
        provider: String,
        /// What was wrong.
        reason: String,
    },
    /// A header name or value is not valid HTTP.
    #[error("provider {provider}: invalid header {name:?}")]
    Header {
        /// The provider's name.
        provider: String,
        /// The header name.
        name: String,
    },
    /// The HTTP client could not be created (TLS setup).
    #[error("provider {provider}: HTTP client: {reason}")]
    Client {
        /// The provider's name.
        provider: String,
        /// What failed.
        reason: String,
    },
}

/// One provider endpoint: its pool, credentials, timeouts and wire format.
#[derive(Debug)]
pub struct HttpUpstream {
    name: ProviderName,
    kind: ProviderKind,
    /// `{base}/chat/completions` (the untranslated OpenAI path).
    chat_url: Uri,
    /// `{base}/embeddings` (the untranslated OpenAI embeddings path).
    embeddings_url: Uri,
    /// `{base}/responses` (a Responses body passed through, no quirks).
    responses_url: Uri,
    /// Connection pools, one per calling thread.
    pools: Pools,
    /// Content type, configured extra headers and (untranslated path) the
    /// bearer key.
    headers: HeaderMap,
    /// The `Host` header for the base URL's authority, made once: the
    /// client would otherwise format it for every request.
    host: Option<HeaderValue>,
    timeouts: Timeouts,
    /// Largest single stream event accepted.
    max_stream_event_bytes: usize,
    /// The translating adapter; `None` forwards OpenAI bodies as they are.
    adapter: Option<Arc<Adapter>>,
    /// Removes the configuration's credentials from upstream error text.
    scrubber: Arc<Scrubber>,
}

/// The decision record's note for a clamped output limit.
fn clamp_note(c: &OutputClamp) -> TranslationNote {
    TranslationNote {
        field: "max_tokens".into(),
        action: NoteAction::Translated,
        reason: format!(
            "{} is above the route's max-output-tokens; sent {} (max-output: clamp)",
            c.requested, c.sent
        ),
    }
}

/// Why a request cannot be rendered for a route: the route cannot carry it
/// (another route may), never the caller's fault alone.
#[derive(Debug, Clone, Error)]
#[error("{0}")]
pub struct PrepareError(pub String);

/// Why an adapter could not render a request for a route.
fn prepare_error(e: TranslateError) -> PrepareError {
    match e {
        TranslateError::Http(m) => PrepareError(m),
        other => PrepareError(other.to_string()),
    }
}

/// A successful non-streaming answer.
#[derive(Debug, Clone)]
pub struct ChatJson {
    /// The provider's JSON body, forwarded as is.
    pub body: Bytes,
    /// Token usage, when the provider reported it.
    pub usage: Option<Usage>,
    /// The body's wire format (the client's own on the same-family path).
    pub format: WireFormat,
    /// The model the provider says answered (its answer's `model`).
    pub model: AnswerModel,
}

impl HttpUpstream {
    /// Builds the client for one configured provider; `scrubber` (built
    /// once per configuration, [`Scrubber::for_providers`]) cleans every
    /// upstream-supplied error text this client reports.
    pub fn new(cfg: &ProviderConfig, scrubber: Arc<Scrubber>) -> Result<Self, UpstreamBuildError> {
        let provider = cfg.name.to_string();
        let chat_url = parse_uri(&format!(
            "{}/chat/completions",
            cfg.base_url.trim_end_matches('/')
        ))
        .map_err(|reason| UpstreamBuildError::Url {
            provider: provider.clone(),
            reason,
        })?;
        let embeddings_url = parse_uri(&format!(
            "{}/embeddings",
            cfg.base_url.trim_end_matches('/')
        ))
        .map_err(|reason| UpstreamBuildError::Url {
            provider: provider.clone(),
            reason,
        })?;
        let responses_url = parse_uri(&format!("{}/responses", cfg.base_url.trim_end_matches('/')))
            .map_err(|reason| UpstreamBuildError::Url {
                provider: provider.clone(),
                reason,
            })?;
        let adapter = native::adapter_for(cfg).map(Arc::new);
        let format = signalbox_adapters::format_of(cfg.kind);
        if let (None, Some(needs)) = (&adapter, format.adapter_needs()) {
            return Err(UpstreamBuildError::Client {
                provider,
                reason: format!("{} provider without {needs}", cfg.kind.as_str()),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in &cfg.headers {
            let bad = || UpstreamBuildError::Header {
                provider: provider.clone(),
                name: name.clone(),
            };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let v = HeaderValue::from_str(value).map_err(|_| bad())?;
            headers.insert(n, v);
        }
        if let Some(key) = cfg.api_key.as_ref().filter(|_| adapter.is_none()) {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    UpstreamBuildError::Header {
                        provider: provider.clone(),
                        name: "authorization".into(),
                    }
                })?;
            v.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, v);
        }
        let pools =
            client::build(cfg.timeouts.connect).map_err(|reason| UpstreamBuildError::Client {
                provider: provider.clone(),
                reason,
            })?;
        let host = host_header(&chat_url);
        Ok(Self {
            name: cfg.name.clone(),
            kind: cfg.kind,
            host,
            chat_url,
            embeddings_url,
            responses_url,
            pools,
            headers,
            timeouts: cfg.timeouts,
            max_stream_event_bytes: cfg.max_stream_event_bytes,
            adapter,
            scrubber,
        })
    }

    /// The provider's wire protocol.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// Renders `req` for a route of this provider. The untranslated path
    /// only swaps the model (and sets `store: false` for zero retention);
    /// native kinds translate through their adapter, which may refuse a
    /// request the route cannot carry.
    pub fn prepare(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Prepared, PrepareError> {
        if req.is_embeddings() {
            return self.prepare_embeddings(req, route);
        }
        if route.embedding.is_some() {
            return Err(PrepareError(
                "the route serves embeddings, not chat".to_owned(),
            ));
        }
        if let Some(native) = self.forward_native(req, route) {
            return native;
        }
        // The OpenAI view lacks part of the client's body: translating it
        // would lose that part silently.
        if let Some(why) = req.untranslatable() {
            return Err(PrepareError(why.to_owned()));
        }
        let no_store = route.retention == Retention::None;
        let schema = crate::structured::validator(req)?;
        // Only a clamping route is sent a request above its limit (the
        // policy excludes a refusing one), so lowering it here is the clamp.
        let clamped = route
            .max_output_tokens
            .and_then(|cap| req.clamp_max_tokens(cap));
        let (req, max_tokens_clamped) = match &clamped {
            Some((r, c)) => (r, Some(*c)),
            None => (req, None),
        };
        // What the client's own format lost on the way to the OpenAI view
        // is lost for every route that is not sent its body as it is.
        let mut notes: Vec<TranslationNote> = req.ingress_notes().to_vec();
        notes.extend(max_tokens_clamped.iter().map(clamp_note));
        if req.ingress() == WireFormat::Responses {
            notes.push(passthrough::responses_translated(route));
        }
        let Some(adapter) = &self.adapter else {
            return Ok(Prepared {
                body: Bytes::from(req.upstream_json(&route.upstream_model, no_store)),
                stream: req.is_stream(),
                client: req.ingress(),
                native: None,
                notes,
                max_tokens_clamped,
                format: WireFormat::OpenAi,
                schema,
                embedding: None,
            });
        };
        let canonical = signalbox_adapters::openai::read_request(req.body(), &route.upstream_model)
            .map_err(|e| PrepareError(format!("request not translatable: {e}")))?;
        let rendered = adapter
            .render(&canonical, route, signalbox_core::clock::system_now())
            .map_err(prepare_error)?;
        let url = parse_uri(&rendered.request.url)
            .map_err(|e| PrepareError(format!("invalid upstream URL: {e}")))?;
        notes.extend(rendered.notes);
        Ok(Prepared {
            body: Bytes::from(rendered.request.body),
            stream: rendered.request.stream,
            client: req.ingress(),
            native: Some((url, rendered.request.headers)),
            notes,
            max_tokens_clamped,
            format: WireFormat::OpenAi,
            schema,
            embedding: None,
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &ProviderName {
        &self.name
    }

    /// The provider's timeouts.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// A framer for this provider's OpenAI-shaped stream, capped at its
    /// `max-stream-event-bytes`.
    pub fn sse_framer(&self) -> SseFramer {
        SseFramer::with_max_event_bytes(self.max_stream_event_bytes)
    }

    /// Sends a prepared request. Resolves with the response once its head
    /// has arrived with a 2xx status; any other outcome is a classified
    /// error (non-2xx bodies are read, bounded, to explain the failure).
    pub async fn send(
        &self,
        prepared: &Prepared,
        call: &CallContext<'_>,
    ) -> Result<AnswerHead, UpstreamError> {
        let started = Instant::now();
        let accept = if prepared.stream {
            signalbox_adapters::format_of(self.kind).stream_accept()
        } else {
            "application/json"
        };
        let mut req = http::Request::new(Full::new(prepared.body.clone()));
        *req.method_mut() = Method::POST;
        // Sized once for the provider's headers and the few added below
        // (accept, request id, trace context, a native adapter's own).
        let headers = req.headers_mut();
        headers.reserve(self.headers.len() + 8);
        headers.extend(self.headers.iter().map(|(n, v)| (n.clone(), v.clone())));
        match &prepared.native {
            None => *req.uri_mut() = self.chat_url.clone(),
            Some((uri, native)) => {
                *req.uri_mut() = uri.clone();
                for (name, value) in native {
                    req.headers_mut().insert(name, value.clone());
                }
            }
        }
        if let Some(host) = &self.host
            && req.uri().authority() == self.chat_url.authority()
        {
            // A configured `host` header wins, as the client's own would.
            req.headers_mut()
                .entry(header::HOST)
                .or_insert_with(|| host.clone());
        }
        let headers = req.headers_mut();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(v) = call.request_id {
            headers.insert(REQUEST_ID, v.clone());
        }
        if let Some(v) = call.traceparent {
            headers.insert(TRACEPARENT, v.clone());
            if let Some(state) = call.tracestate {
                headers.insert(TRACESTATE, state.clone());
            }
        }
        let first_byte = self.timeouts.first_byte;
        let resp = match tokio::time::timeout(first_byte, self.pools.get().request(req)).await {
            Err(_) => return Err(UpstreamError::timeout("first-byte", first_byte)),
            Ok(Err(e)) => return Err(client::send_error(&e)),
            Ok(Ok(resp)) => resp,
        };
        let deadline = started + self.timeouts.total;
        let (parts, body) = resp.into_parts();
        let status = parts.status;
        if status.is_success() {
            return Ok(AnswerHead {
                format: prepared.format,
                body,
                content_length: parts
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
                deadline,
            });
        }
        let retry_after = rate_limit_reset(&parts.headers);
        let body = client::read_bounded(body, MAX_ERROR_BODY_BYTES, deadline).await;
        Err(self.status_error(status.as_u16(), retry_after, &parts.headers, &body))
    }

    /// Classifies a non-2xx answer; every upstream-supplied text in it is
    /// scrubbed before it is shortened, so not even a prefix of a
    /// credential survives.
    fn status_error(
        &self,
        status: u16,
        retry_after: Option<u64>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> UpstreamError {
        let scrub = &self.scrubber;
        let Some(adapter) = &self.adapter else {
            return scrub.error(UpstreamError::from_status(status, retry_after, body, scrub));
        };
        let e = adapter.parse_error(status, headers, body);
        let kind = e.kind.as_deref().map(|k| truncate(&scrub.scrub(k), 100));
        let message = e.message.as_deref().map(|m| truncate(&scrub.scrub(m), 300));
        let what = match (kind, message) {
            (Some(k), Some(m)) => format!(": {k}: {m}"),
            (Some(k), None) => format!(": {k}"),
            (None, Some(m)) => format!(": {m}"),
            (None, None) => String::new(),
        };
        scrub.error(UpstreamError {
            class: e.class,
            status: Some(status),
            detail: format!("{} answered {status}{what}", e.provider),
            retry_after_secs: retry_after,
            provider_error: scrub.ids(e.ids),
        })
    }

    /// The failure a stream's first event reports, if it is an error event.
    /// Only streams passed on as written need this (OpenAI-compatible ones,
    /// and native ones in the client's own format): a decoded stream's
    /// provider error event is already a failure.
    pub fn first_event_error(&self, format: WireFormat, data: &str) -> Option<UpstreamError> {
        if format == WireFormat::Responses {
            return self.responses_first_event_error(data);
        }
        match (&self.adapter, format) {
            (None, _) => UpstreamError::from_first_event(data, &self.scrubber)
                .map(|e| self.scrubber.error(e)),
            (Some(adapter), WireFormat::Anthropic) => {
                let (kind, message) = signalbox_adapters::anthropic::error_event(data)?;
                Some(native::error_event(
                    adapter.format(),
                    &self.scrubber,
                    &kind,
                    &message,
                ))
            }
            // Decoded streams report their errors themselves (a Responses
            // stream passed through is read above), embeddings never stream.
            (
                Some(_),
                WireFormat::OpenAi
                | WireFormat::Responses
                | WireFormat::Completions
                | WireFormat::Embeddings,
            ) => None,
        }
    }

    /// The streamed answer: the provider's bytes when the client reads
    /// them as they are (framed once, by the dispatcher), else typed events
    /// decoded from the provider's own format (a native kind's, or an
    /// OpenAI-compatible server's for an Anthropic client).
    pub fn events(&self, answer: AnswerHead, prepared: &Prepared) -> ByteStream {
        let total = self.timeouts.total;
        // The body went upstream as written: the answer is in `answer.format`.
        let untranslated = self.adapter.is_none() || answer.format != WireFormat::OpenAi;
        if untranslated && answer.format == prepared.client {
            let scrubber = Some(Arc::clone(&self.scrubber));
            return client::byte_stream(answer.body, answer.deadline, total, scrubber);
        }
        let format = match &self.adapter {
            Some(adapter) if !untranslated => adapter.format(),
            _ => wire_format(answer.format),
        };
        native::decode_stream(
            format,
            client::byte_stream(answer.body, answer.deadline, total, None),
            Arc::clone(&self.scrubber),
            self.max_stream_event_bytes,
        )
    }
}

/// A 2xx answer whose head has arrived; read it with
/// [`HttpUpstream::read_json`] or [`HttpUpstream::events`].
#[derive(Debug)]
pub struct AnswerHead {
    body: Incoming,
    /// The wire format the answer is passed on in.
    format: WireFormat,
    content_length: Option<u64>,
    /// The attempt's total deadline.
    deadline: Instant,
}

/// Parses an absolute `http(s)` URI.
/// The `Host` header HTTP/1.1 requires for `uri`, as hyper's client would
/// write it: the host, and the port unless it is the scheme's default.
fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    match uri.port_u16() {
        Some(port) if port != default_port => HeaderValue::from_str(&format!("{host}:{port}")).ok(),
        _ => HeaderValue::from_str(host).ok(),
    }
}

fn parse_uri(text: &str) -> Result<Uri, String> {
    let uri: Uri = text.parse().map_err(|e| format!("{e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(h)) if !h.is_empty() => Ok(uri),
        _ => Err(format!("{text:?} is not an absolute http(s) URL")),
    }
}

mod answer_model;
mod embeddings;
mod passthrough;
mod prepared;
mod read;

pub use prepared::Prepared;

/// The provider format whose stream decoder reads a stream passed on in
/// `format` (for a client that reads another). Upstreams answer in OpenAI's
/// or Anthropic's format only; the Responses and completions formats are
/// clients'.
fn wire_format(format: WireFormat) -> &'static dyn ProviderFormat {
    match format {
        WireFormat::OpenAi
        | WireFormat::Responses
        | WireFormat::Completions
        | WireFormat::Embeddings => &signalbox_adapters::openai::FORMAT,
        WireFormat::Anthropic => &signalbox_adapters::anthropic::FORMAT,
    }
}

#[cfg(test)]
mod tests;
