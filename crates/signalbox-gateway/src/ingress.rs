//! Owns reading what the caller sent: the request id and the bounded body.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use signalbox_core::headers::REQUEST_ID;

use crate::respond::ApiError;

/// The caller's `x-request-id` when it is sane (1–128 visible ASCII
/// characters), else a new time-ordered id.
pub fn request_id(headers: &HeaderMap) -> String {
    if let Some(v) = headers.get(REQUEST_ID)
        && (1..=128).contains(&v.len())
        && v.as_bytes().iter().all(u8::is_ascii_graphic)
        && let Ok(s) = v.to_str()
    {
        return s.to_string();
    }
    uuid::Uuid::now_v7().simple().to_string()
}

/// Reads the whole body, refusing anything over `limit` bytes (early, from
/// `content-length`, when the caller declared it).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
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

    use super::*;

    #[test]
    fn keeps_a_sane_caller_request_id() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
    }

    #[test]
    fn replaces_an_unusable_request_id() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        let id = request_id(&h);
        assert_eq!(id.len(), 32);
        assert_ne!(id, "has space");
        h.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(129)).unwrap());
        assert_eq!(request_id(&h).len(), 32);
    }

    #[tokio::test]
    async fn refuses_bodies_over_the_limit() {
        let h = HeaderMap::new();
        let err = read_body(&h, Body::from(vec![b'a'; 11]), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, ApiError::BodyTooLarge { limit: 10 }));
        let ok = read_body(&h, Body::from(vec![b'a'; 10]), 10).await.unwrap();
        assert_eq!(ok.len(), 10);
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1000"));
        assert!(matches!(
            read_body(&h, Body::empty(), 10).await,
            Err(ApiError::BodyTooLarge { .. })
        ));
    }
}
