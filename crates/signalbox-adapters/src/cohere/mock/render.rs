//! Owns rendering answers as Cohere v2 Chat bodies and SSE events, and errors.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::mock::{Answer, AnswerBody, MockRequest, TOOL_ARGUMENTS, TOOL_CALL_ID, split_pieces};

/// `event: <name>\ndata: <json>\n\n` (Cohere repeats the name as `type`).
fn event(data: &Value) -> Bytes {
    let name = data["type"].as_str().unwrap_or("unknown");
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn finish_reason(answer: &Answer) -> &'static str {
    match answer.body {
        AnswerBody::Text(_) => "COMPLETE",
        AnswerBody::ToolCall { .. } => "TOOL_CALL",
    }
}

/// `usage`, billed and seen alike (the mock has no hidden preamble).
fn usage(answer: &Answer) -> Value {
    let counts = json!({
        "input_tokens": answer.prompt_tokens,
        "output_tokens": answer.completion_tokens,
    });
    json!({"billed_units": counts, "tokens": counts})
}

/// The answer to the `n`-th request.
pub(super) fn body(_request: &MockRequest, answer: &Answer, n: u64) -> serde_json::Result<Bytes> {
    let message = match &answer.body {
        AnswerBody::Text(text) => json!({
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
        }),
        AnswerBody::ToolCall { name } => json!({
            "role": "assistant",
            "tool_plan": format!("I will call {name}."),
            "tool_calls": [{
                "id": TOOL_CALL_ID,
                "type": "function",
                "function": {"name": name, "arguments": TOOL_ARGUMENTS},
            }],
        }),
    };
    let body = json!({
        "id": format!("mock-{n}"),
        "finish_reason": finish_reason(answer),
        "message": message,
        "usage": usage(answer),
    });
    serde_json::to_vec(&body).map(Bytes::from)
}

/// The streamed answer: `message-start`, then text deltas in one content
/// block (or one tool call whose arguments arrive in `pieces`), then
/// `message-end` with the finish reason and usage.
pub(super) fn events(
    _request: &MockRequest,
    answer: &Answer,
    n: u64,
    pieces: u32,
) -> serde_json::Result<Vec<Bytes>> {
    let mut out = Vec::with_capacity(pieces as usize + 4);
    out.push(event(&json!({
        "type": "message-start",
        "id": format!("mock-{n}"),
        "delta": {"message": {"role": "assistant", "content": [], "tool_calls": []}},
    })));
    match &answer.body {
        AnswerBody::Text(text) => {
            out.push(event(&json!({
                "type": "content-start", "index": 0,
                "delta": {"message": {"content": {"type": "text", "text": ""}}},
            })));
            for piece in split_pieces(text, pieces) {
                out.push(event(&json!({
                    "type": "content-delta", "index": 0,
                    "delta": {"message": {"content": {"text": piece}}},
                })));
            }
            out.push(event(&json!({"type": "content-end", "index": 0})));
        }
        AnswerBody::ToolCall { name } => {
            out.push(event(&json!({
                "type": "tool-call-start", "index": 0,
                "delta": {"message": {"tool_calls": {
                    "id": TOOL_CALL_ID, "type": "function",
                    "function": {"name": name, "arguments": ""},
                }}},
            })));
            for piece in split_pieces(TOOL_ARGUMENTS, pieces) {
                out.push(event(&json!({
                    "type": "tool-call-delta", "index": 0,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}},
                })));
            }
            out.push(event(&json!({"type": "tool-call-end", "index": 0})));
        }
    }
    out.push(event(&json!({
        "type": "message-end",
        "delta": {"finish_reason": finish_reason(answer), "usage": usage(answer)},
    })));
    Ok(out)
}

/// Cohere's error body: `{"id": …, "message": …}`.
pub(super) fn error_body(status: StatusCode, message: &str) -> Bytes {
    let body = json!({"id": format!("mock-error-{}", status.as_u16()), "message": message});
    Bytes::from(body.to_string())
}
