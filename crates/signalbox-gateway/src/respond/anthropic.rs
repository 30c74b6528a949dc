//! Owns what an Anthropic client (`/v1/messages`) sees that the gateway
//! writes itself: the error shape
//! `{"type":"error","error":{"type","message"},"request_id"}` (the
//! provider's identifiers and the `signalbox` details kept), a chat
//! completion rewritten as an Anthropic message, and the error event that
//! ends a broken stream.

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};
use signalbox_adapters::anthropic;

use super::code::anthropic_type;

/// Anthropic's error body for an error the gateway wrote in OpenAI's shape.
pub(crate) fn error_body(status: StatusCode, openai: Value, request_id: &str) -> Value {
    let message = openai["error"]["message"]
        .as_str()
        .unwrap_or("request failed");
    let mut out = json!({
        "type": "error",
        "error": { "type": anthropic_type(status), "message": message },
        "request_id": request_id,
    });
    for key in ["provider_code", "provider_type"] {
        if let Some(x) = openai["error"].get(key) {
            out["error"][key] = x.clone();
        }
    }
    if let Some(sb) = openai.get("signalbox") {
        out["signalbox"] = sb.clone();
    }
    out
}

/// A chat completion (OpenAI's shape) rewritten as an Anthropic message.
pub(crate) fn message(completion: &[u8]) -> Result<Bytes, String> {
    signalbox_adapters::openai::parse_response(completion)
        .map(|r| Bytes::from(anthropic::render_response(&r)))
        .map_err(|e| e.to_string())
}

/// The `error` event that ends a stream broken after its first event
/// (Anthropic SDKs raise an API error on it).
pub(crate) fn cut_event(message: &str, request_id: &str, route: &str) -> Bytes {
    let body = json!({
        "type": "error",
        "error": { "type": "api_error", "message": message },
        "request_id": request_id,
        "signalbox": { "request_id": request_id, "route": route },
    });
    Bytes::from(format!("event: error\ndata: {body}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_body_keeps_the_providers_ids_and_the_gateways_details() {
        let openai = json!({
            "error": { "message": "bad", "type": "invalid_request_error", "code": "x",
                       "provider_code": "c1", "provider_type": "t1" },
            "signalbox": { "request_id": "r1", "attempts": [] },
        });
        let out = error_body(StatusCode::TOO_MANY_REQUESTS, openai, "r1");
        assert_eq!(out["type"], "error");
        assert_eq!(out["error"]["type"], "rate_limit_error");
        assert_eq!(out["error"]["message"], "bad");
        assert_eq!(out["error"]["provider_code"], "c1");
        assert_eq!(out["request_id"], "r1");
        assert_eq!(out["signalbox"]["attempts"], json!([]));
    }
}
