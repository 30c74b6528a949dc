//! Owns rendering answers as Gemini `GenerateContentResponse`s (whole or streamed) and errors.

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::GeminiRequest;
use crate::mock::{Answer, AnswerBody, TOOL_ARGUMENTS, split_pieces};

fn usage(answer: &Answer) -> Value {
    json!({
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": answer.completion_tokens,
        "totalTokenCount": answer.prompt_tokens + answer.completion_tokens,
    })
}

/// One response object with `parts`, finished (with usage) or not.
fn response(
    request: &GeminiRequest,
    answer: &Answer,
    n: u64,
    parts: Value,
    finished: bool,
) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    let mut out = json!({
        "candidates": [],
        "modelVersion": request.model,
        "responseId": format!("mock-{n}"),
    });
    if finished {
        candidate["finishReason"] = json!("STOP");
        out["usageMetadata"] = usage(answer);
    }
    out["candidates"] = json!([candidate]);
    out
}

fn tool_parts(name: &str) -> serde_json::Result<Value> {
    let args: Value = serde_json::from_str(TOOL_ARGUMENTS)?;
    Ok(json!([{"functionCall": {"name": name, "args": args}}]))
}

/// The `generateContent` body answering the `n`-th request.
pub(super) fn body(request: &GeminiRequest, answer: &Answer, n: u64) -> serde_json::Result<Bytes> {
    let parts = match &answer.body {
        AnswerBody::Text(text) => json!([{"text": text}]),
        AnswerBody::ToolCall { name } => tool_parts(name)?,
    };
    serde_json::to_vec(&response(request, answer, n, parts, true)).map(Bytes::from)
}

/// The streamed answer: one event per text piece (the last with `finishReason` and usage), or
/// one event with the whole function call.
pub(super) fn events(
    request: &GeminiRequest,
    answer: &Answer,
    n: u64,
    pieces: u32,
) -> serde_json::Result<Vec<Bytes>> {
    let bodies: Vec<Value> = match &answer.body {
        AnswerBody::Text(text) => {
            let pieces = split_pieces(text, pieces);
            let last = pieces.len().saturating_sub(1);
            if pieces.is_empty() {
                vec![response(request, answer, n, json!([{"text": ""}]), true)]
            } else {
                pieces
                    .iter()
                    .enumerate()
                    .map(|(i, p)| response(request, answer, n, json!([{"text": p}]), i == last))
                    .collect()
            }
        }
        AnswerBody::ToolCall { name } => {
            vec![response(request, answer, n, tool_parts(name)?, true)]
        }
    };
    Ok(bodies
        .iter()
        .map(|b| Bytes::from(format!("data: {b}\n\n")))
        .collect())
}

/// Google's status name for an HTTP status.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// The `{"error": {"code", "message", "status"}}` body for `status`.
pub(super) fn error_body(status: StatusCode, message: &str) -> Bytes {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": status_name(status)}});
    Bytes::from(body.to_string())
}
