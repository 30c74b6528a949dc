//! How an upstream attempt ended, classified once so that retry, failover,
//! metrics and the HTTP error mapping all agree on what happened.

use serde::{Deserialize, Serialize};

/// Where an error came from (pingora's `ErrorSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// The caller's request was at fault.
    Downstream,
    /// A provider failed or refused.
    Upstream,
    /// The gateway itself failed.
    Internal,
}

/// The class of one upstream attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    /// The provider answered with a usable response.
    Success,
    /// The connection could not be made (refused, DNS, TLS): the request never
    /// reached the provider.
    Connect,
    /// A connect, first-byte or total deadline passed.
    Timeout,
    /// The provider answered 429.
    RateLimited,
    /// The provider answered 5xx.
    ServerError,
    /// The provider rejected our credentials (401/403): a gateway
    /// configuration problem, not the caller's.
    AuthRejected,
    /// The provider rejected the request itself (other 4xx). Never retried:
    /// another provider would reject it too.
    RequestRejected,
    /// The provider answered 2xx with a body we could not parse.
    BadResponse,
    /// A stream broke after the first chunk was committed to the caller.
    StreamCut,
}

impl OutcomeClass {
    /// Every class, for pre-registering metrics.
    pub const ALL: [Self; 9] = [
        Self::Success,
        Self::Connect,
        Self::Timeout,
        Self::RateLimited,
        Self::ServerError,
        Self::AuthRejected,
        Self::RequestRejected,
        Self::BadResponse,
        Self::StreamCut,
    ];

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the dispatcher may move on to another route after this outcome.
    pub fn fails_over(self) -> bool {
        !matches!(self, Self::Success | Self::RequestRejected)
    }

    /// Whether the provider may have acted on the request: false when the
    /// connection never opened, and when the provider refused it before
    /// doing anything (429 rate limited, 401/403 credentials refused, a
    /// 4xx rejection of the request itself). At-most-once operations fail
    /// over only after such outcomes.
    pub fn may_have_reached_provider(self) -> bool {
        !matches!(
            self,
            Self::Connect | Self::RateLimited | Self::AuthRejected | Self::RequestRejected
        )
    }

    /// Low-cardinality label for metrics and decision records.
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Connect => "connect_error",
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::AuthRejected => "auth_rejected",
            Self::RequestRejected => "request_rejected",
            Self::BadResponse => "bad_response",
            Self::StreamCut => "stream_cut",
        }
    }

    /// Classifies an upstream HTTP status code.
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Success,
            429 => Self::RateLimited,
            401 | 403 => Self::AuthRejected,
            408 => Self::Timeout,
            400..=499 => Self::RequestRejected,
            _ => Self::ServerError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(OutcomeClass::from_status(200), OutcomeClass::Success);
        assert_eq!(OutcomeClass::from_status(429), OutcomeClass::RateLimited);
        assert_eq!(
            OutcomeClass::from_status(400),
            OutcomeClass::RequestRejected
        );
        assert_eq!(
            OutcomeClass::from_status(404),
            OutcomeClass::RequestRejected
        );
        assert_eq!(OutcomeClass::from_status(401), OutcomeClass::AuthRejected);
        assert_eq!(OutcomeClass::from_status(503), OutcomeClass::ServerError);
        assert_eq!(OutcomeClass::from_status(302), OutcomeClass::ServerError);
    }

    #[test]
    fn only_request_rejections_stop_failover() {
        assert!(!OutcomeClass::RequestRejected.fails_over());
        assert!(OutcomeClass::ServerError.fails_over());
        assert!(OutcomeClass::RateLimited.fails_over());
        assert!(OutcomeClass::Connect.fails_over());
        assert!(!OutcomeClass::Connect.may_have_reached_provider());
        assert!(!OutcomeClass::RateLimited.may_have_reached_provider());
        assert!(!OutcomeClass::AuthRejected.may_have_reached_provider());
        assert!(!OutcomeClass::RequestRejected.may_have_reached_provider());
        assert!(OutcomeClass::Timeout.may_have_reached_provider());
        assert!(OutcomeClass::ServerError.may_have_reached_provider());
        assert!(OutcomeClass::StreamCut.may_have_reached_provider());
    }
}
