//! Owns the one egress surface the gateway calls: the [`ProviderFormat`]
//! every provider kind implements in its own folder, the registry
//! ([`format_of`]) generated from `signalbox_core::provider_kinds!`, an
//! [`Adapter`] per configured provider and its [`StreamDecoder`].

use std::fmt::Debug;
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderMap;
use signalbox_core::request::NativeBody;
use signalbox_core::{OpenAiQuirks, OutcomeClass, ProviderErrorCode, ProviderKind, Secret};

use crate::bedrock::AwsCredentials;
use crate::canonical::{ChatRequest, ChatResponse, StreamEvent};
use crate::error::{ProviderError, ResponseError, StreamError, TranslateError};
use crate::route::{Rendered, RouteSettings, UpstreamRequest};

/// What one provider kind knows: how to build an adapter for a configured
/// endpoint, read its answers, errors and streams, and (with the `mock`
/// feature) how to imitate it. Implemented once per kind, in the kind's
/// folder, by a unit struct held in a `static FORMAT`.
pub trait ProviderFormat: Sync + 'static {
    /// Low-cardinality name for metrics and notes (`openai`, `azure`, …).
    fn name(&self) -> &'static str;

    /// The adapter for one configured provider; `None` when requests go
    /// upstream untranslated (OpenAI-compatible without quirks) or the
    /// endpoint lacks what the kind needs.
    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter>;

    /// Parses a 2xx, non-streamed body.
    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError>;

    /// Classifies a non-2xx answer from its status, headers and body.
    fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError;

    /// The class of a stream error event the decoder reported as `kind`.
    fn stream_error_class(&self, kind: &str) -> OutcomeClass;

    /// Whether a stream error's `kind` is the provider's error code (else
    /// its error type).
    fn stream_error_is_code(&self) -> bool {
        false
    }

    /// A decoder for this kind's streamed answers.
    fn stream_decoder(&self) -> StreamDecoder;

    /// Classifies a [`StreamEvent::Error`] this kind's decoder produced.
    fn classify_stream_error(&self, kind: &str, message: &str) -> ProviderError {
        let ids = if self.stream_error_is_code() {
            ProviderErrorCode {
                code: Some(kind.to_owned()),
                ..ProviderErrorCode::default()
            }
        } else {
            ProviderErrorCode {
                kind: Some(kind.to_owned()),
                ..ProviderErrorCode::default()
            }
        };
        ProviderError {
            provider: self.name(),
            class: self.stream_error_class(kind),
            status: None,
            kind: Some(kind.to_owned()),
            message: Some(message.to_owned()),
            ids,
        }
    }

    /// The `accept` header of a streamed request.
    fn stream_accept(&self) -> &'static str {
        "text/event-stream"
    }

    /// What a configured endpoint of this kind must have for [`adapter`]
    /// to build one (the provider is refused at load without it); `None`
    /// when a kind without an adapter forwards requests untranslated.
    ///
    /// [`adapter`]: ProviderFormat::adapter
    fn adapter_needs(&self) -> Option<&'static str> {
        Some("its settings")
    }

    /// Reads one embeddings batch's 2xx answer for `expected` inputs
    /// (OpenAI's `list` by default; kinds with another shape translate).
    fn read_embeddings(
        &self,
        body: &[u8],
        expected: usize,
    ) -> Result<crate::embeddings::EmbeddingAnswer, ResponseError> {
        crate::embeddings::read_answer(body, expected)
    }

    /// The mock provider's side of this wire format, when there is one.
    #[cfg(feature = "mock")]
    fn mock(&self) -> Option<&'static dyn crate::mock::MockWire> {
        None
    }
}

/// Expands `signalbox_core::provider_kinds!` into the registry: each kind's
/// `FORMAT` static in the folder the list names.
macro_rules! registry {
    ($($variant:ident = $name:literal, $family:literal, $settings:expr, $module:ident, $doc:literal;)*) => {
        /// The format of provider kind `kind`.
        pub fn format_of(kind: ProviderKind) -> &'static dyn ProviderFormat {
            match kind {
                $(ProviderKind::$variant => &crate::$module::FORMAT,)*
            }
        }
    };
}

signalbox_core::provider_kinds!(registry);

/// A configured provider endpoint, as every kind sees it; each kind reads
/// the fields its settings take (`signalbox_core::KindSettings`).
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// Base URL without a trailing `/`.
    pub base_url: String,
    /// The API key, when configured.
    pub api_key: Option<Secret>,
    /// The API version, for kinds that take one.
    pub api_version: Option<String>,
    /// What an OpenAI-compatible server accepts.
    pub quirks: OpenAiQuirks,
    /// AWS region and credentials, for kinds that sign with them.
    pub aws: Option<AwsEndpoint>,
}

/// An AWS region and the credentials that sign requests to it.
#[derive(Debug, Clone)]
pub struct AwsEndpoint {
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Signing credentials.
    pub credentials: AwsCredentials,
}

/// Renders canonical requests for one configured endpoint of a kind.
pub trait Render: Debug + Send + Sync + 'static {
    /// The kind this renderer belongs to.
    fn format(&self) -> &'static dyn ProviderFormat;

    /// Renders `req` for `route`. `now` is used only to sign requests
    /// (Bedrock).
    fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Result<Rendered, TranslateError>;

    /// The request carrying `body` (the client's own, in `native`'s wire
    /// format, already given its upstream model) when this kind speaks
    /// that format, so it is passed on untranslated; `None` when it must
    /// be translated (every kind but the client's own family).
    fn forward_native(
        &self,
        _native: &NativeBody,
        _body: Vec<u8>,
        _stream: bool,
    ) -> Option<Result<UpstreamRequest, TranslateError>> {
        None
    }

    /// The request embedding one batch of inputs (`batch`, the whole
    /// `input` when `None`) of the client's OpenAI embeddings `body` for
    /// `route` (`now` signs Bedrock's); `None` when this kind serves no
    /// embeddings (the route cannot carry the request).
    fn render_embeddings(
        &self,
        _body: &EmbeddingsBody<'_>,
        _route: &RouteSettings,
        _now: SystemTime,
    ) -> Option<Result<UpstreamRequest, TranslateError>> {
        None
    }
}

/// One batch of an embeddings request, as a kind renders it.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddingsBody<'a> {
    /// The client's validated OpenAI embeddings body.
    pub body: &'a serde_json::Map<String, serde_json::Value>,
    /// The batch's inputs; `None` sends the client's `input` as written.
    pub batch: Option<&'a [&'a serde_json::Value]>,
}

/// Implements [`Render`] for `$adapter`, whose inherent `render(req, route)`
/// needs no clock, as part of the kind whose format is `$format`; with
/// `embeddings`, also its inherent `render_embeddings(body, route)`; with
/// `responses` besides, its inherent `forward_responses(body, stream)` for
/// a Responses client's own body (OpenAI's family serves that API).
macro_rules! render_without_clock {
    (@embeddings $adapter:ty) => {
        fn render_embeddings(
            &self,
            body: &$crate::adapter::EmbeddingsBody<'_>,
            route: &$crate::route::RouteSettings,
            _now: std::time::SystemTime,
        ) -> Option<Result<$crate::route::UpstreamRequest, $crate::error::TranslateError>> {
            Some(<$adapter>::render_embeddings(self, body, route))
        }
    };
    ($adapter:ty, $format:expr, embeddings) => {
        render_without_clock!($adapter, $format, { render_without_clock!(@embeddings $adapter); });
    };
    ($adapter:ty, $format:expr, embeddings, responses) => {
        render_without_clock!($adapter, $format, {
            render_without_clock!(@embeddings $adapter);

            fn forward_native(
                &self,
                native: &signalbox_core::request::NativeBody,
                body: Vec<u8>,
                stream: bool,
            ) -> Option<Result<$crate::route::UpstreamRequest, $crate::error::TranslateError>>
            {
                (native.format == signalbox_core::request::WireFormat::Responses)
                    .then(|| <$adapter>::forward_responses(self, body, stream))
            }
        });
    };
    ($adapter:ty, $format:expr) => {
        render_without_clock!($adapter, $format, {});
    };
    ($adapter:ty, $format:expr, { $($extra:tt)* }) => {
        impl $crate::adapter::Render for $adapter {
            fn format(&self) -> &'static dyn $crate::adapter::ProviderFormat {
                &$format
            }

            fn render(
                &self,
                req: &$crate::canonical::ChatRequest,
                route: &$crate::route::RouteSettings,
                _now: std::time::SystemTime,
            ) -> Result<$crate::route::Rendered, $crate::error::TranslateError> {
                <$adapter>::render(self, req, route)
            }

            $($extra)*
        }
    };
}

/// Implements [`DecodeStream`] for an SSE decoder `$decoder` whose
/// `on_data(data)` reads each event's data alone.
macro_rules! sse_decoder {
    ($decoder:ty) => {
        impl $crate::adapter::DecodeStream for $decoder {
            fn on_sse(
                &mut self,
                _event: Option<&str>,
                data: &str,
            ) -> Result<Vec<$crate::canonical::StreamEvent>, $crate::error::StreamError> {
                self.on_data(data)
            }
        }
    };
}

pub(crate) use {render_without_clock, sse_decoder};

/// A provider adapter, configured for one provider entry.
#[derive(Debug, Clone)]
pub struct Adapter {
    format: &'static dyn ProviderFormat,
    render: Arc<dyn Render>,
}

impl Debug for dyn ProviderFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Adapter {
    /// The adapter rendering with `render`.
    pub fn new(render: impl Render) -> Self {
        Self {
            format: render.format(),
            render: Arc::new(render),
        }
    }

    /// The kind's format.
    pub fn format(&self) -> &'static dyn ProviderFormat {
        self.format
    }

    /// Low-cardinality name for metrics and notes.
    pub fn name(&self) -> &'static str {
        self.format.name()
    }

    /// Renders `req` for `route`. `now` is used only to sign Bedrock
    /// requests. What the kind left out is held to the declared behaviour
    /// of each field (`crate::unsupported`): a field the table refuses
    /// refuses the route.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Result<Rendered, TranslateError> {
        let rendered = self.render.render(req, route, now)?;
        crate::unsupported::enforce(self.name(), req, &rendered.notes)?;
        Ok(rendered)
    }

    /// See [`Render::forward_native`].
    pub fn forward_native(
        &self,
        native: &NativeBody,
        body: Vec<u8>,
        stream: bool,
    ) -> Option<Result<UpstreamRequest, TranslateError>> {
        self.render.forward_native(native, body, stream)
    }

    /// See [`Render::render_embeddings`].
    pub fn render_embeddings(
        &self,
        body: &EmbeddingsBody<'_>,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Option<Result<UpstreamRequest, TranslateError>> {
        self.render.render_embeddings(body, route, now)
    }

    /// See [`ProviderFormat::read_embeddings`].
    pub fn read_embeddings(
        &self,
        body: &[u8],
        expected: usize,
    ) -> Result<crate::embeddings::EmbeddingAnswer, ResponseError> {
        self.format.read_embeddings(body, expected)
    }

    /// Parses a 2xx, non-streamed body.
    pub fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        let mut resp = self.format.parse_response(body)?;
        crate::structured::unwrap_answer(&mut resp);
        Ok(resp)
    }

    /// Classifies a non-2xx answer from its status, headers and body.
    pub fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        self.format.parse_error(status, headers, body)
    }

    /// Classifies a [`StreamEvent::Error`] this adapter's decoder produced.
    pub fn classify_stream_error(&self, kind: &str, message: &str) -> ProviderError {
        self.format.classify_stream_error(kind, message)
    }

    /// A decoder for this adapter's streamed answers.
    pub fn stream_decoder(&self) -> StreamDecoder {
        self.format.stream_decoder()
    }
}

/// One kind's stream decoding, behind [`StreamDecoder`].
pub trait DecodeStream: Debug + Send + 'static {
    /// Whether the body is SSE (framed by the caller) rather than bytes the
    /// decoder frames itself.
    fn is_sse(&self) -> bool {
        true
    }

    /// Caps one self-framed message at `max` bytes (SSE events are capped
    /// by the caller's framer).
    fn limit_event_bytes(&mut self, _max: usize) {}

    /// Decodes one SSE event (`event:` name, joined `data:` lines).
    fn on_sse(&mut self, event: Option<&str>, data: &str) -> Result<Vec<StreamEvent>, StreamError>;

    /// Decodes raw body bytes (self-framing kinds only).
    fn on_bytes(&mut self, _bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        Err(StreamError::Framing(
            "SSE streams are framed by the caller: use on_sse",
        ))
    }

    /// Call once the body ended: flushes held-back events and reports a
    /// stream cut inside a frame.
    fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        Ok(Vec::new())
    }
}

/// Decodes one upstream stream into canonical events.
///
/// SSE providers take events already framed by the gateway's SSE framer
/// through [`Self::on_sse`]; Bedrock takes raw body bytes through
/// [`Self::on_bytes`] (it frames AWS event-stream messages itself).
/// [`Self::is_sse`] says which.
/// A call of the forced structured-output tool comes out as text deltas
/// (`crate::structured`).
#[derive(Debug)]
pub struct StreamDecoder(Box<dyn DecodeStream>, crate::structured::Unwrap);

impl StreamDecoder {
    /// Wraps one kind's decoder.
    pub fn new(decoder: impl DecodeStream) -> Self {
        Self(Box::new(decoder), crate::structured::Unwrap::default())
    }

    fn unwrapped(
        &mut self,
        events: Result<Vec<StreamEvent>, StreamError>,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        let mut events = events?;
        self.1.events(&mut events);
        Ok(events)
    }

    /// Whether the body is SSE (else bytes the decoder frames itself).
    pub fn is_sse(&self) -> bool {
        self.0.is_sse()
    }

    /// Caps one event at `max` bytes. SSE events are framed (and capped)
    /// by the caller's framer; a Bedrock decoder frames its own messages, so
    /// it takes the cap itself.
    pub fn with_max_event_bytes(mut self, max: usize) -> Self {
        self.0.limit_event_bytes(max);
        self
    }

    /// Decodes one SSE event (`event:` name, joined `data:` lines).
    pub fn on_sse(
        &mut self,
        event: Option<&str>,
        data: &str,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        let events = self.0.on_sse(event, data);
        self.unwrapped(events)
    }

    /// Decodes raw body bytes (Bedrock only).
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        let events = self.0.on_bytes(bytes);
        self.unwrapped(events)
    }

    /// Call once the body ended: flushes held-back events (Gemini usage) and
    /// reports a stream cut inside a binary frame.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        let events = self.0.finish();
        self.unwrapped(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of the list is registered, under a name of its own, and
    /// builds an adapter from an endpoint carrying every setting (the
    /// OpenAI-compatible kind only with quirks: without, it forwards).
    #[test]
    fn every_kind_is_registered_and_builds_an_adapter() {
        let endpoint = Endpoint {
            base_url: "http://x".into(),
            api_key: Some(Secret::new("k")),
            api_version: None,
            quirks: OpenAiQuirks {
                seed: false,
                ..OpenAiQuirks::default()
            },
            aws: Some(AwsEndpoint {
                region: "us-east-1".into(),
                credentials: AwsCredentials {
                    access_key_id: "AKIA".into(),
                    secret_access_key: Secret::new("s"),
                    session_token: None,
                },
            }),
        };
        let mut names = Vec::new();
        for kind in ProviderKind::ALL {
            let format = format_of(*kind);
            assert!(!names.contains(&format.name()), "{kind}: name repeated");
            names.push(format.name());
            let adapter = format.adapter(&endpoint);
            assert_eq!(adapter.map(|a| a.name()), Some(format.name()), "{kind}");
        }
        let plain = Endpoint::default();
        assert!(
            format_of(ProviderKind::OpenAiCompatible)
                .adapter(&plain)
                .is_none()
        );
    }
}
