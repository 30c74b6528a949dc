//! One upstream attempt as callers, logs and decision records see it
//! (STYLE.md rule 4: keep every attempt).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{OutcomeClass, ProviderName, RouteId};

/// The record of one upstream attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The route tried.
    pub route: RouteId,
    /// The route's provider.
    pub provider: ProviderName,
    /// How the attempt ended.
    pub outcome: OutcomeClass,
    /// The upstream HTTP status, when one was received.
    pub status: Option<u16>,
    /// Time from sending to the outcome.
    #[serde(with = "millis", rename = "elapsed_ms")]
    pub elapsed: Duration,
    /// Time from the request's arrival to this attempt's send: places the
    /// attempt in the request's timeline (its exported span). Not stored
    /// in the decision record (read back as zero).
    #[serde(skip)]
    pub sent_after: Duration,
    /// A short, secret-free explanation (e.g. "connection refused").
    pub detail: String,
    /// Seconds the provider asked us to wait (429 `retry-after`), if any.
    pub retry_after_secs: Option<u64>,
    /// The provider's own error code and type, when it sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<ProviderErrorCode>,
}

/// A provider's own error identifiers (`context_length_exceeded`,
/// `invalid_request_error`, `INVALID_ARGUMENT`, `ValidationException` …),
/// kept so callers can react to them. Upstream-supplied: the provider
/// layer bounds them and scrubs credentials out before they leave it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderErrorCode {
    /// The provider's error code (OpenAI `error.code`, Gemini
    /// `error.status`, Bedrock's exception name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The provider's error type (OpenAI and Anthropic `error.type`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The request field the provider named (OpenAI `error.param`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

impl ProviderErrorCode {
    /// `None` when the provider named nothing.
    pub fn non_empty(self) -> Option<Self> {
        (self.code.is_some() || self.kind.is_some() || self.param.is_some()).then_some(self)
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
