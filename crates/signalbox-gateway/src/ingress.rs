//! Owns reading what the caller sent: the request id and the bounded body.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use signalbox_core::headers::REQUEST_ID;

use crate::respond::ApiError;

/// The ids of one request.
#[derive(Debug, Clone)]
pub struct RequestIds {
    /// The gateway's own id, always generated (time-ordered, 32 hex
    /// digits): the decision record's key, `x-signalbox-request-id`.
    pub gateway: String,
    /// The same id as a header value.
    pub gateway_header: HeaderValue,
    /// The caller's `x-request-id`, when it is sane.
    pub caller: Option<String>,
    /// The id echoed as `x-request-id` (and sent upstream): the caller's,
    /// else the gateway's.
    pub echo_header: HeaderValue,
}

impl RequestIds {
    /// Reads the caller's `x-request-id` and generates the gateway's id.
    pub fn new(headers: &HeaderMap) -> Self {
        let (gateway, gateway_header) = generated_id();
        let caller = caller_request_id(headers);
        Self {
            echo_header: caller.map_or_else(|| gateway_header.clone(), |(_, h)| h.clone()),
            caller: caller.map(|(s, _)| s.to_owned()),
            gateway,
            gateway_header,
        }
    }

    /// The id echoed as `x-request-id`, as text.
    pub fn echo(&self) -> &str {
        self.caller.as_deref().unwrap_or(&self.gateway)
    }
}

/// The caller's `x-request-id` when it is sane (1–128 visible ASCII
/// characters), else a new time-ordered id; for answers written before
/// the pipeline makes [`RequestIds`] (an unknown path).
pub fn request_id_header(headers: &HeaderMap) -> HeaderValue {
    match caller_request_id(headers) {
        Some((_, h)) => h.clone(),
        None => generated_id().1,
    }
}

/// The caller's `x-request-id` when it is 1–128 visible ASCII characters.
fn caller_request_id(headers: &HeaderMap) -> Option<(&str, &HeaderValue)> {
    let v = headers.get(REQUEST_ID)?;
    if !(1..=128).contains(&v.len()) || !v.as_bytes().iter().all(u8::is_ascii_graphic) {
        return None;
    }
    // The caller's value shares its bytes with the request: no copy.
    Some((v.to_str().ok()?, v))
}

/// A new time-ordered id, as text and as a header value.
fn generated_id() -> (String, HeaderValue) {
    let mut buf = uuid::Uuid::encode_buffer();
    let id: &str = uuid::Uuid::now_v7().simple().encode_lower(&mut buf);
    // 32 hex digits: always a valid header value.
    let header = HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"));
    (id.to_owned(), header)
}

/// Reads the whole body, refusing anything over `limit` bytes (early, from
/// `content-length`, when the caller declared it) or not complete within
/// `deadline` (a client trickling its body would otherwise hold the
/// connection and the handler forever). The deadline's timer is armed only
/// when the body is not already buffered, as small bodies usually are.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(deadline, read_limited(headers, body, limit)).await {
        Ok(read) => read,
        Err(_) => Err(ApiError::BodyTimeout { after: deadline }),
    }
}

async fn read_limited(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => {
            let inner = e.into_inner();
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
            while let Some(err) = cur {
                if err.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiError::BodyTooLarge { limit });
                }
                cur = err.source();
            }
            Err(ApiError::BodyRead(inner.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use futures::StreamExt;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn keeps_a_sane_caller_request_id_beside_its_own() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(
            request_id_header(&h)
                .to_str()
                .unwrap_or_default()
                .to_owned(),
            "abc-123"
        );
        let ids = RequestIds::new(&h);
        assert_eq!(ids.caller.as_deref(), Some("abc-123"));
        assert_eq!(ids.echo(), "abc-123");
        assert_eq!(ids.echo_header.to_str().unwrap(), "abc-123");
        // The record key is never the caller's.
        assert_eq!(ids.gateway.len(), 32);
        assert_eq!(ids.gateway_header.to_str().unwrap(), ids.gateway);
        assert_ne!(RequestIds::new(&h).gateway, ids.gateway);
    }

    #[test]
    fn a_generated_id_and_its_header_agree() {
        let ids = RequestIds::new(&HeaderMap::new());
        assert_eq!(ids.gateway.len(), 32);
        assert!(ids.gateway.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(ids.gateway_header.to_str().unwrap(), ids.gateway);
        assert_eq!(ids.caller, None);
        assert_eq!(ids.echo(), ids.gateway);
        assert_eq!(ids.echo_header, ids.gateway_header);
    }

    #[test]
    fn replaces_an_unusable_request_id() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        let id = request_id_header(&h)
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(id.len(), 32);
        assert_ne!(id, "has space");
        assert_eq!(RequestIds::new(&h).caller, None);
        h.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(129)).unwrap());
        assert_eq!(
            request_id_header(&h)
                .to_str()
                .unwrap_or_default()
                .to_owned()
                .len(),
            32
        );
    }

    /// A body whose bytes never all arrive.
    fn trickled_body() -> Body {
        let first = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{"))]);
        Body::from_stream(first.chain(futures::stream::pending()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_not_complete_by_the_deadline_times_out() {
        let started = tokio::time::Instant::now();
        let err = read_body(
            &HeaderMap::new(),
            trickled_body(),
            100,
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ApiError::BodyTimeout { .. }), "{err:?}");
        assert_eq!(err.status(), axum::http::StatusCode::REQUEST_TIMEOUT);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn refuses_bodies_over_the_limit() {
        let h = HeaderMap::new();
        let err = read_body(&h, Body::from(vec![b'a'; 11]), 10, SECOND)
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::BodyTooLarge { limit: 10 }));
        let ok = read_body(&h, Body::from(vec![b'a'; 10]), 10, SECOND)
            .await
            .unwrap();
        assert_eq!(ok.len(), 10);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1000"));
        assert!(matches!(
            read_body(&h, Body::empty(), 10, SECOND).await,
            Err(ApiError::BodyTooLarge { .. })
        ));
    }
}
