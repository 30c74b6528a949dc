//! Owns the adapters' error types: refusals while rendering, malformed
//! provider answers, and provider error bodies mapped to outcome classes.

use signalbox_core::{OutcomeClass, ProviderErrorCode};
use thiserror::Error;

/// Why a canonical request could not be rendered for a target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TranslateError {
    /// The target cannot honour a field and dropping it would change the
    /// request's meaning.
    #[error("{target} cannot honour `{field}`: {reason}")]
    Unsupported {
        /// Adapter name, e.g. `anthropic`.
        target: &'static str,
        /// The field: a top-level one as the client names it (`n`,
        /// `tool_choice`, never `sampling.n`), else its path.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// A field's value is unusable (e.g. tool arguments that are not JSON).
    #[error("`{field}`: {problem}")]
    Invalid {
        /// Canonical field path.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The request could not be turned into HTTP (bad URL, header or
    /// credentials) or signed.
    #[error("building the upstream request failed: {0}")]
    Http(String),
}

impl TranslateError {
    pub(crate) fn unsupported(
        target: &'static str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Unsupported {
            target,
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// A provider's 2xx body that does not have the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{provider} response: {problem}")]
pub struct ResponseError {
    /// Adapter name.
    pub provider: &'static str,
    /// What is wrong (serde's message with line and column, or a missing field).
    pub problem: String,
}

impl ResponseError {
    pub(crate) fn new(provider: &'static str, problem: impl Into<String>) -> Self {
        Self {
            provider,
            problem: problem.into(),
        }
    }
}

/// A stream that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StreamError {
    /// An event's payload is not the documented JSON.
    #[error("{provider} stream event: {problem}")]
    Event {
        /// Adapter name.
        provider: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// AWS event-stream framing is broken (length, CRC, header encoding).
    #[error("event-stream frame: {0}")]
    Frame(String),
    /// One message is longer than the decoder's cap (the provider's
    /// `max-stream-event-bytes`).
    #[error("upstream stream event larger than {limit} bytes (max-stream-event-bytes)")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// Bytes were fed to a decoder of an SSE provider, or SSE events to a
    /// binary one.
    #[error("wrong framing for this decoder: {0}")]
    Framing(&'static str),
}

/// A provider's error answer (non-2xx body, or an error event in a stream),
/// classified so that retry and failover decisions are right.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} from {provider}{}: {}", .class.label(), .kind.as_deref().map(|k| format!(" ({k})")).unwrap_or_default(), .message.as_deref().unwrap_or("no message"))]
pub struct ProviderError {
    /// Adapter name.
    pub provider: &'static str,
    /// The outcome class retry and failover act on.
    pub class: OutcomeClass,
    /// HTTP status, when there was one.
    pub status: Option<u16>,
    /// The provider's error type or code, e.g. `rate_limit_error`.
    pub kind: Option<String>,
    /// The provider's message.
    pub message: Option<String>,
    /// The provider's code and type as it sent them, kept apart so the
    /// gateway can pass them on (`kind` above merges them for display).
    pub ids: ProviderErrorCode,
}
