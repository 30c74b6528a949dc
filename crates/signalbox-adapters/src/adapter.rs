//! Owns the one egress surface the gateway calls: an [`Adapter`] per route
//! (render, parse, classify errors) and its [`StreamDecoder`].

use std::time::SystemTime;

use http::HeaderMap;
use signalbox_core::{OutcomeClass, ProviderErrorCode};

use crate::anthropic::{self, AnthropicAdapter};
use crate::azure::AzureAdapter;
use crate::bedrock::{self, BedrockAdapter};
use crate::canonical::{ChatRequest, ChatResponse, StreamEvent};
use crate::error::{ProviderError, ResponseError, StreamError, TranslateError};
use crate::gemini::{self, GeminiAdapter};
use crate::openai::{self, OpenAiAdapter};
use crate::route::{Rendered, RouteSettings};

/// A provider adapter, configured for one provider entry.
#[derive(Debug, Clone)]
pub enum Adapter {
    /// OpenAI or an OpenAI-compatible server.
    OpenAi(OpenAiAdapter),
    /// Azure OpenAI.
    Azure(AzureAdapter),
    /// Anthropic Messages.
    Anthropic(AnthropicAdapter),
    /// Google Gemini.
    Gemini(GeminiAdapter),
    /// AWS Bedrock Converse.
    Bedrock(BedrockAdapter),
}

impl Adapter {
    /// Low-cardinality name for metrics and notes.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OpenAi(_) => "openai",
            Self::Azure(_) => "azure",
            Self::Anthropic(_) => "anthropic",
            Self::Gemini(_) => "gemini",
            Self::Bedrock(_) => "bedrock",
        }
    }

    /// Renders `req` for `route`. `now` is used only to sign Bedrock requests.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Result<Rendered, TranslateError> {
        match self {
            Self::OpenAi(a) => a.render(req, route),
            Self::Azure(a) => a.render(req, route),
            Self::Anthropic(a) => a.render(req, route),
            Self::Gemini(a) => a.render(req, route),
            Self::Bedrock(a) => a.render(req, route, now),
        }
    }

    /// Parses a 2xx, non-streamed body.
    pub fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        match self {
            Self::OpenAi(_) | Self::Azure(_) => openai::parse_response(body),
            Self::Anthropic(_) => anthropic::parse_response(body),
            Self::Gemini(_) => gemini::parse_response(body),
            Self::Bedrock(_) => bedrock::parse_response(body),
        }
    }

    /// Classifies a non-2xx answer from its status, headers and body.
    pub fn parse_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        match self {
            Self::OpenAi(_) => openai::parse_error(status, body),
            Self::Azure(_) => ProviderError {
                provider: "azure",
                ..openai::parse_error(status, body)
            },
            Self::Anthropic(_) => anthropic::parse_error(status, body),
            Self::Gemini(_) => gemini::parse_error(status, body),
            Self::Bedrock(_) => {
                let kind = headers
                    .get("x-amzn-errortype")
                    .and_then(|v| v.to_str().ok());
                bedrock::parse_error(status, kind, body)
            }
        }
    }

    /// Classifies a [`StreamEvent::Error`] this adapter's decoder produced.
    pub fn classify_stream_error(&self, kind: &str, message: &str) -> ProviderError {
        let class = match self {
            Self::OpenAi(_) | Self::Azure(_) if kind.contains("rate_limit") => {
                OutcomeClass::RateLimited
            }
            Self::OpenAi(_) | Self::Azure(_) => OutcomeClass::ServerError,
            Self::Anthropic(_) => anthropic::error_class(None, Some(kind)),
            Self::Gemini(_) if kind == "RESOURCE_EXHAUSTED" => OutcomeClass::RateLimited,
            Self::Gemini(_) => OutcomeClass::ServerError,
            Self::Bedrock(_) => bedrock::stream_error_class(kind),
        };
        // Gemini and Bedrock name an error by code; the others by type.
        let ids = match self {
            Self::Gemini(_) | Self::Bedrock(_) => ProviderErrorCode {
                code: Some(kind.to_owned()),
                ..ProviderErrorCode::default()
            },
            _ => ProviderErrorCode {
                kind: Some(kind.to_owned()),
                ..ProviderErrorCode::default()
            },
        };
        ProviderError {
            provider: self.name(),
            class,
            status: None,
            kind: Some(kind.to_owned()),
            message: Some(message.to_owned()),
            ids,
        }
    }

    /// A decoder for this adapter's streamed answers.
    pub fn stream_decoder(&self) -> StreamDecoder {
        match self {
            Self::OpenAi(_) | Self::Azure(_) => StreamDecoder::OpenAi(openai::ChunkDecoder::new()),
            Self::Anthropic(_) => StreamDecoder::Anthropic(anthropic::EventDecoder::new()),
            Self::Gemini(_) => StreamDecoder::Gemini(gemini::ChunkDecoder::new()),
            Self::Bedrock(_) => StreamDecoder::Bedrock(bedrock::StreamDecoder::new()),
        }
    }
}

/// Decodes one upstream stream into canonical events.
///
/// SSE providers (OpenAI, Azure, Anthropic, Gemini) take events already
/// framed by the gateway's SSE framer through [`Self::on_sse`]; Bedrock takes
/// raw body bytes through [`Self::on_bytes`] (it frames AWS event-stream
/// messages itself). [`Self::is_sse`] says which.
#[derive(Debug)]
pub enum StreamDecoder {
    /// OpenAI-format chunks.
    OpenAi(openai::ChunkDecoder),
    /// Anthropic events.
    Anthropic(anthropic::EventDecoder),
    /// Gemini chunks.
    Gemini(gemini::ChunkDecoder),
    /// Bedrock event-stream frames.
    Bedrock(bedrock::StreamDecoder),
}

impl StreamDecoder {
    /// Whether the body is SSE (else AWS event-stream bytes).
    pub fn is_sse(&self) -> bool {
        !matches!(self, Self::Bedrock(_))
    }

    /// Caps one event at `max` bytes. SSE events are framed (and capped)
    /// by the caller's framer; a Bedrock decoder frames its own messages, so
    /// it takes the cap itself.
    pub fn with_max_event_bytes(mut self, max: usize) -> Self {
        if let Self::Bedrock(d) = &mut self {
            d.limit_message_bytes(max);
        }
        self
    }

    /// Decodes one SSE event (`event:` name, joined `data:` lines).
    pub fn on_sse(
        &mut self,
        _event: Option<&str>,
        data: &str,
    ) -> Result<Vec<StreamEvent>, StreamError> {
        match self {
            Self::OpenAi(d) => d.on_data(data),
            Self::Anthropic(d) => d.on_data(data),
            Self::Gemini(d) => d.on_data(data),
            Self::Bedrock(_) => Err(StreamError::Framing(
                "Bedrock streams are binary: use on_bytes",
            )),
        }
    }

    /// Decodes raw body bytes (Bedrock only).
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        match self {
            Self::Bedrock(d) => d.on_bytes(bytes),
            _ => Err(StreamError::Framing(
                "SSE streams are framed by the caller: use on_sse",
            )),
        }
    }

    /// Call once the body ended: flushes held-back events (Gemini usage) and
    /// reports a stream cut inside a binary frame.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        match self {
            Self::Gemini(d) => Ok(d.finish()),
            Self::Bedrock(d) => d.finish().map(|()| Vec::new()),
            Self::OpenAi(_) | Self::Anthropic(_) => Ok(Vec::new()),
        }
    }
}
