//! Turns transport errors and upstream statuses into an [`OutcomeClass`]
//! with a short, secret-free detail.

use std::time::Duration;

use signalbox_core::OutcomeClass;
use thiserror::Error;

/// A failed upstream exchange, classified.
#[derive(Debug, Clone, Error)]
#[error("{class_label}: {detail}", class_label = .class.label())]
pub struct UpstreamError {
    /// What kind of failure this was.
    pub class: OutcomeClass,
    /// The upstream HTTP status, when one was received.
    pub status: Option<u16>,
    /// A short explanation; never contains credentials or prompt text.
    pub detail: String,
    /// `retry-after` seconds, for 429 and 503 answers.
    pub retry_after_secs: Option<u64>,
}

impl UpstreamError {
    /// A failure of the given class with no HTTP status.
    pub fn new(class: OutcomeClass, detail: impl Into<String>) -> Self {
        Self {
            class,
            status: None,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    /// A deadline passed.
    pub fn timeout(what: &str, after: Duration) -> Self {
        Self::new(
            OutcomeClass::Timeout,
            format!("{what} timeout after {}", humanize(after)),
        )
    }

    /// Classifies a transport error from the HTTP client.
    pub fn from_transport(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            return Self::new(OutcomeClass::Timeout, "timed out");
        }
        if err.is_connect() {
            return Self::new(
                OutcomeClass::Connect,
                format!("connect failed: {}", root_cause(err)),
            );
        }
        if err.is_body() || err.is_decode() {
            return Self::new(
                OutcomeClass::BadResponse,
                format!("reading body failed: {}", root_cause(err)),
            );
        }
        Self::new(
            OutcomeClass::ServerError,
            format!("transport error: {}", root_cause(err)),
        )
    }

    /// Classifies a non-2xx upstream answer. `body` is the (bounded) error
    /// body; its `error.message` is kept when it is short and well formed.
    pub fn from_status(status: u16, retry_after_secs: Option<u64>, body: &[u8]) -> Self {
        let class = OutcomeClass::from_status(status);
        let message = upstream_message(body);
        let detail = match message {
            Some(m) => format!("upstream answered {status}: {m}"),
            None => format!("upstream answered {status}"),
        };
        Self {
            class,
            status: Some(status),
            detail,
            retry_after_secs,
        }
    }
}

/// Extracts `error.message` (OpenAI shape) or `message` from an error body.
pub fn upstream_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let m = v
        .get("error")
        .and_then(|e| e.get("message").or(Some(e)))
        .or_else(|| v.get("message"))?;
    let s = m.as_str()?;
    Some(truncate(s, 300))
}

/// Parses a `retry-after` header given in seconds (the HTTP-date form is
/// rare among LLM providers and is ignored).
pub fn parse_retry_after(value: Option<&http::HeaderValue>) -> Option<u64> {
    let s = value?.to_str().ok()?.trim();
    s.parse::<u64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.ceil() as u64)
    })
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    truncate(&cur.to_string(), 200)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn humanize(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classification_keeps_upstream_message() {
        let e =
            UpstreamError::from_status(400, None, br#"{"error":{"message":"bad temperature"}}"#);
        assert_eq!(e.class, OutcomeClass::RequestRejected);
        assert_eq!(e.detail, "upstream answered 400: bad temperature");
        let e = UpstreamError::from_status(503, None, b"<html>oops</html>");
        assert_eq!(e.class, OutcomeClass::ServerError);
        assert_eq!(e.detail, "upstream answered 503");
    }

    #[test]
    fn retry_after_parsing() {
        let v = http::HeaderValue::from_static("7");
        assert_eq!(parse_retry_after(Some(&v)), Some(7));
        let v = http::HeaderValue::from_static("1.2");
        assert_eq!(parse_retry_after(Some(&v)), Some(2));
        let v = http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(Some(&v)), None);
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(200);
        assert!(truncate(&s, 301).ends_with('…'));
    }
}
