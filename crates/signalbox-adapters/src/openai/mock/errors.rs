//! Owns OpenAI's error body shape and the error `type`/`code` for each status.

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<&'static str>,
}

/// OpenAI's error `type` and `code` for a status.
fn error_kind(status: StatusCode) -> (&'static str, Option<&'static str>) {
    match status.as_u16() {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        404 => ("invalid_request_error", Some("not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    }
}

/// The `{"error": {...}}` body for `status`.
pub(super) fn error_body(status: StatusCode, message: &str) -> Bytes {
    let (kind, code) = error_kind(status);
    let body = ErrorBody {
        error: ErrorDetail {
            message,
            kind,
            code,
            param: None,
        },
    };
    // Serialising plain strings cannot fail; fall back to a fixed body just in case.
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .unwrap_or_else(|_| {
            Bytes::from_static(
                br#"{"error":{"message":"error","type":"server_error","code":null,"param":null}}"#,
            )
        })
}
