//! Turns transport errors and upstream statuses into an [`OutcomeClass`]
//! with a short, secret-free detail.

use std::time::Duration;

use signalbox_core::{OutcomeClass, ProviderErrorCode};
use thiserror::Error;

use crate::scrub::Scrubber;

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
    /// The provider's own error code and type (scrubbed, bounded).
    pub provider_error: Option<ProviderErrorCode>,
}

impl UpstreamError {
    /// A failure of the given class with no HTTP status.
    pub fn new(class: OutcomeClass, detail: impl Into<String>) -> Self {
        Self {
            class,
            status: None,
            detail: detail.into(),
            retry_after_secs: None,
            provider_error: None,
        }
    }

    /// A deadline passed.
    pub fn timeout(what: &str, after: Duration) -> Self {
        Self::new(
            OutcomeClass::Timeout,
            format!("{what} timeout after {}", humanize(after)),
        )
    }

    /// Classifies a non-2xx upstream answer. `body` is the (bounded) error
    /// body; its `error.message` is kept (scrubbed, then shortened) and its
    /// `error.code` / `type` / `param` are kept apart.
    pub fn from_status(
        status: u16,
        retry_after_secs: Option<u64>,
        body: &[u8],
        scrubber: &Scrubber,
    ) -> Self {
        let class = OutcomeClass::from_status(status);
        let (message, ids) = upstream_fields(body);
        let detail = match message {
            Some(m) => format!(
                "upstream answered {status}: {}",
                truncate(&scrubber.scrub(&m), 300)
            ),
            None => format!("upstream answered {status}"),
        };
        Self {
            class,
            status: Some(status),
            detail,
            retry_after_secs,
            provider_error: scrubber.ids(ids),
        }
    }
}

impl UpstreamError {
    /// Whether the provider rejected the request because the prompt does
    /// not fit the model's context window: OpenAI's and Azure's
    /// `context_length_exceeded`, vLLM's "maximum context length",
    /// Anthropic's "prompt is too long", Gemini's "input token count …
    /// exceeds", Bedrock's "input is too long", or a 413. Such a request
    /// may still fit a route with a larger window; sent unchanged to the
    /// same model it never will.
    pub fn overflowed_context(&self) -> bool {
        const SAID: [&str; 6] = [
            "maximum context length",
            "context window",
            "prompt is too long",
            "input is too long",
            "input token count",
            "too many input tokens",
        ];
        if self.class != OutcomeClass::RequestRejected {
            return false;
        }
        let code = self.provider_error.as_ref().and_then(|p| p.code.as_deref());
        if self.status == Some(413) || code == Some("context_length_exceeded") {
            return true;
        }
        let detail = self.detail.to_ascii_lowercase();
        SAID.iter().any(|s| detail.contains(s))
    }

    /// The failure an OpenAI-shaped stream reports in its first event
    /// (`data: {"error": {…}}` under a 200, as vLLM, LiteLLM and OpenAI
    /// itself send when a request fails after the headers went out), or
    /// `None` for any other event. Its status is the error's numeric `code`
    /// when it has one (vLLM), else read from its `type`; so a rejected
    /// request stays a rejection and a server error fails over, before
    /// anything reached the caller.
    pub fn from_first_event(data: &str, scrubber: &Scrubber) -> Option<Self> {
        if !data.contains("\"error\"") {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(data).ok()?;
        let error = v.get("error").filter(|e| e.is_object())?;
        let status = error
            .get("code")
            .and_then(serde_json::Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (400..=599).contains(c))
            .unwrap_or_else(|| status_of_type(error.get("type").and_then(|t| t.as_str())));
        let mut e = Self::from_status(status, None, data.as_bytes(), scrubber);
        e.detail = e.detail.replacen(
            &format!("upstream answered {status}"),
            "upstream streamed an error event",
            1,
        );
        Some(e)
    }
}

/// The HTTP status an error `type` stands for (OpenAI's names and the
/// Python exception names vLLM uses); 500 when it names none.
fn status_of_type(kind: Option<&str>) -> u16 {
    let kind = kind.unwrap_or_default().to_ascii_lowercase();
    if kind.contains("rate_limit") || kind.contains("ratelimit") {
        429
    } else if kind.contains("authentication") || kind.contains("permission") {
        401
    } else if kind.contains("invalid_request")
        || kind.contains("badrequest")
        || kind.contains("not_found")
    {
        400
    } else {
        500
    }
}

/// Extracts `error.message` (OpenAI shape) or `message`, and the OpenAI
/// shape's `error.code`, `error.type` and `error.param`, from an error body.
fn upstream_fields(body: &[u8]) -> (Option<String>, ProviderErrorCode) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, ProviderErrorCode::default());
    };
    let message = v
        .get("error")
        .and_then(|e| e.get("message").or(Some(e)))
        .or_else(|| v.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    let field = |name: &str| match v.get("error").and_then(|e| e.get(name)) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let ids = ProviderErrorCode {
        code: field("code"),
        kind: field("type"),
        param: field("param"),
    };
    (message, ids)
}

/// The longest wait a provider's `retry-after` (or reset header) can
/// impose: the route's quota cooldown, the attempt record and the caller's
/// `retry-after` all use the value clamped to this, so an upstream's
/// `retry-after: 99999999999` neither parks a route for centuries nor
/// reaches callers as such.
pub const MAX_RETRY_AFTER_SECS: u64 = 600;

/// When a rate-limited route may be tried again: `retry-after` (seconds),
/// else the providers' reset headers — OpenAI's `x-ratelimit-reset-requests`
/// / `-tokens` (`1s`, `6m0s`, `250ms`), or a plain seconds value. Clamped
/// to [`MAX_RETRY_AFTER_SECS`].
pub fn rate_limit_reset(headers: &http::HeaderMap) -> Option<u64> {
    reset_unclamped(headers).map(|s| s.min(MAX_RETRY_AFTER_SECS))
}

fn reset_unclamped(headers: &http::HeaderMap) -> Option<u64> {
    parse_retry_after(headers.get(http::header::RETRY_AFTER)).or_else(|| {
        [
            "x-ratelimit-reset-requests",
            "x-ratelimit-reset-tokens",
            "x-ratelimit-reset",
        ]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .filter_map(parse_reset)
        .max()
    })
}

/// `6m0s`, `1.5s`, `250ms`, `20` (seconds) → whole seconds, rounded up.
fn parse_reset(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| secs.ceil() as u64);
    }
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let value: f64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += value * unit;
    }
    (num.is_empty() && total.is_finite()).then(|| total.ceil() as u64)
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

pub(crate) fn truncate(s: &str, max: usize) -> String {
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
    fn context_overflows_are_recognised_in_each_providers_words() {
        let scrub = Scrubber::new(["sk-configured-secret-1"]);
        let overflow = |status: u16, body: &str| {
            UpstreamError::from_status(status, None, body.as_bytes(), &scrub).overflowed_context()
        };
        for body in [
            r#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            r#"{"error":{"message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens","type":"BadRequestError","code":400}}"#,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
            r#"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#,
            r#"{"message":"Input is too long for requested model."}"#,
        ] {
            assert!(overflow(400, body), "{body}");
        }
        assert!(overflow(413, "{}"));
        // Other rejections, and the same words under a server error, are not.
        assert!(!overflow(
            400,
            r#"{"error":{"message":"max_tokens is too large","code":"invalid_value"}}"#
        ));
        assert!(!overflow(
            500,
            r#"{"error":{"message":"maximum context length"}}"#
        ));
    }

    #[test]
    fn an_error_first_event_is_classified_by_its_code_or_type() {
        let scrub = Scrubber::new(["sk-configured-secret-1"]);
        let class = |data: &str| UpstreamError::from_first_event(data, &scrub).map(|e| e.class);
        // vLLM: the HTTP status as a number.
        assert_eq!(
            class(
                r#"{"error":{"object":"error","message":"too long","type":"BadRequestError","code":400}}"#
            ),
            Some(OutcomeClass::RequestRejected)
        );
        assert_eq!(
            class(r#"{"error":{"message":"engine died","type":"InternalServerError","code":500}}"#),
            Some(OutcomeClass::ServerError)
        );
        // OpenAI: a type (and a string code).
        assert_eq!(
            class(r#"{"error":{"message":"x","type":"server_error","code":null}}"#),
            Some(OutcomeClass::ServerError)
        );
        assert_eq!(
            class(
                r#"{"error":{"message":"x","type":"invalid_request_error","code":"context_length_exceeded"}}"#
            ),
            Some(OutcomeClass::RequestRejected)
        );
        assert_eq!(
            class(r#"{"error":{"message":"x","type":"rate_limit_error"}}"#),
            Some(OutcomeClass::RateLimited)
        );
        // Not an error event: an ordinary chunk, one that says "error" in
        // its content, an error that is not an object.
        assert_eq!(class(r#"{"choices":[{"delta":{"content":"x"}}]}"#), None);
        assert_eq!(
            class(r#"{"choices":[{"delta":{"content":"an \"error\" here"}}]}"#),
            None
        );
        assert_eq!(class(r#"{"error":"text"}"#), None);
        let e = UpstreamError::from_first_event(
            r#"{"error":{"message":"saw Bearer sk-configured-secret-1","type":"server_error"}}"#,
            &scrub,
        )
        .unwrap();
        assert!(
            e.detail.starts_with("upstream streamed an error event"),
            "{}",
            e.detail
        );
        assert!(!e.detail.contains("sk-configured-secret-1"), "{}", e.detail);
    }

    #[test]
    fn rate_limit_reset_from_retry_after_or_provider_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(rate_limit_reset(&h), None);
        h.insert(
            "x-ratelimit-reset-requests",
            http::HeaderValue::from_static("6m0s"),
        );
        h.insert(
            "x-ratelimit-reset-tokens",
            http::HeaderValue::from_static("250ms"),
        );
        assert_eq!(rate_limit_reset(&h), Some(360));
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("7"),
        );
        assert_eq!(rate_limit_reset(&h), Some(7));
        assert_eq!(parse_reset("1.5s"), Some(2));
        assert_eq!(parse_reset("1h2m"), Some(3720));
        assert_eq!(parse_reset("soon"), None);
        assert_eq!(parse_reset("5x"), None);
    }

    #[test]
    fn a_huge_reset_is_clamped_to_the_gateways_own_bound() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(rate_limit_reset(&h), Some(MAX_RETRY_AFTER_SECS));
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1e300"),
        );
        assert_eq!(rate_limit_reset(&h), Some(MAX_RETRY_AFTER_SECS));
        h.remove(http::header::RETRY_AFTER);
        h.insert(
            "x-ratelimit-reset-requests",
            http::HeaderValue::from_static("9999h"),
        );
        assert_eq!(rate_limit_reset(&h), Some(MAX_RETRY_AFTER_SECS));
    }

    #[test]
    fn status_classification_keeps_upstream_message() {
        let none = Scrubber::default();
        let e = UpstreamError::from_status(
            400,
            None,
            br#"{"error":{"message":"bad temperature"}}"#,
            &none,
        );
        assert_eq!(e.class, OutcomeClass::RequestRejected);
        assert_eq!(e.detail, "upstream answered 400: bad temperature");
        assert_eq!(e.provider_error, None);
        let e = UpstreamError::from_status(503, None, b"<html>oops</html>", &none);
        assert_eq!(e.class, OutcomeClass::ServerError);
        assert_eq!(e.detail, "upstream answered 503");
    }

    #[test]
    fn provider_codes_are_kept_apart_and_scrubbed_before_truncation() {
        let key = "sk-live-0123456789abcdefXYZ";
        let scrubber = Scrubber::new([key]);
        // The key sits across the 300-character cut: scrubbing first means
        // not even a prefix of it survives.
        let message = format!("{}{key}", "x".repeat(290));
        let body = serde_json::json!({"error": {
            "message": message, "type": "invalid_request_error",
            "code": "context_length_exceeded", "param": "messages"}});
        let e = UpstreamError::from_status(400, None, body.to_string().as_bytes(), &scrubber);
        assert!(!e.detail.contains("sk-live-0123"), "{}", e.detail);
        let ids = e.provider_error.unwrap();
        assert_eq!(ids.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(ids.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(ids.param.as_deref(), Some("messages"));
        let echoed = serde_json::json!({"error": {"message": "no", "code": key}});
        let e = UpstreamError::from_status(401, None, echoed.to_string().as_bytes(), &scrubber);
        assert_eq!(
            e.provider_error.unwrap().code.as_deref(),
            Some("[redacted]")
        );
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
