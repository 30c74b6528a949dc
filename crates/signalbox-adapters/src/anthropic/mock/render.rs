//! Owns rendering answers as Anthropic `message` bodies and streaming events, and errors.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::AnthropicRequest;
use crate::mock::{Answer, AnswerBody, TOOL_ARGUMENTS, split_pieces};

/// Id of the canned tool call, in Anthropic's style.
const TOOL_USE_ID: &str = "toolu_mock_1";
/// The canned reasoning of a request that asked for extended thinking.
const THINKING: &str = "mock reasoning";
/// Its signature, which clients must send back in the next turn.
const SIGNATURE: &str = "mock-signature";

fn stop_reason(answer: &Answer) -> &'static str {
    match answer.body {
        AnswerBody::Text(_) => "end_turn",
        AnswerBody::ToolCall { .. } => "tool_use",
    }
}

/// `event: <name>\ndata: <json>\n\n`.
fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The `GET /v1/models` body.
pub(crate) fn models_body() -> serde_json::Result<Bytes> {
    let body = json!({
        "data": [{"type": "model", "id": "mock-model", "display_name": "Mock", "created_at": "2023-11-14T00:00:00Z"}],
        "has_more": false, "first_id": "mock-model", "last_id": "mock-model",
    });
    serde_json::to_vec(&body).map(Bytes::from)
}

/// The `message` body answering the `n`-th request.
pub(super) fn body(
    request: &AnthropicRequest,
    answer: &Answer,
    n: u64,
) -> serde_json::Result<Bytes> {
    let block = match &answer.body {
        AnswerBody::Text(text) => json!({"type": "text", "text": text}),
        AnswerBody::ToolCall { name } => {
            let input: Value = serde_json::from_str(TOOL_ARGUMENTS)?;
            json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": input})
        }
    };
    let content = if request.thinking {
        json!([{"type": "thinking", "thinking": THINKING, "signature": SIGNATURE}, block])
    } else {
        json!([block])
    };
    let body = json!({
        "id": format!("msg_mock_{n}"),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": null,
        "usage": {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens},
    });
    serde_json::to_vec(&body).map(Bytes::from)
}

/// The streamed answer: `message_start`, one content block (text deltas, or a tool_use block
/// whose arguments arrive as partial JSON split into `pieces`), `message_delta`, `message_stop`.
pub(super) fn events(
    request: &AnthropicRequest,
    answer: &Answer,
    n: u64,
    pieces: u32,
) -> serde_json::Result<Vec<Bytes>> {
    let mut out = Vec::with_capacity(pieces as usize + 6);
    out.push(event(
        "message_start",
        &json!({
            "type": "message_start",
            "message": {
                "id": format!("msg_mock_{n}"), "type": "message", "role": "assistant",
                "model": request.model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": answer.prompt_tokens, "output_tokens": 1},
            },
        }),
    ));
    let (block, delta_kind, delta_key, text) = match &answer.body {
        AnswerBody::Text(text) => (
            json!({"type": "text", "text": ""}),
            "text_delta",
            "text",
            text.as_str(),
        ),
        AnswerBody::ToolCall { name } => (
            json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {}}),
            "input_json_delta",
            "partial_json",
            TOOL_ARGUMENTS,
        ),
    };
    let index = u32::from(request.thinking);
    if request.thinking {
        thinking_events(&mut out);
    }
    out.push(event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index, "content_block": block}),
    ));
    out.push(event("ping", &json!({"type": "ping"})));
    for piece in split_pieces(text, pieces) {
        out.push(event(
            "content_block_delta",
            &json!({
                "type": "content_block_delta", "index": index,
                "delta": {"type": delta_kind, delta_key: piece},
            }),
        ));
    }
    out.push(event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    ));
    out.push(event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
            "usage": {"output_tokens": answer.completion_tokens},
        }),
    ));
    out.push(event("message_stop", &json!({"type": "message_stop"})));
    Ok(out)
}

/// The signed thinking block at index 0: start, one thinking delta, the
/// signature, stop.
fn thinking_events(out: &mut Vec<Bytes>) {
    let block = json!({"type": "thinking", "thinking": "", "signature": ""});
    out.push(event(
        "content_block_start",
        &json!({"type": "content_block_start", "index": 0, "content_block": block}),
    ));
    for delta in [
        json!({"type": "thinking_delta", "thinking": THINKING}),
        json!({"type": "signature_delta", "signature": SIGNATURE}),
    ] {
        out.push(event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ));
    }
    out.push(event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
}

/// Anthropic's error `type` for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The `{"type": "error", "error": {...}}` body for `status`.
pub(super) fn error_body(status: StatusCode, message: &str) -> Bytes {
    let body = json!({"type": "error", "error": {"type": error_type(status), "message": message}});
    Bytes::from(body.to_string())
}
