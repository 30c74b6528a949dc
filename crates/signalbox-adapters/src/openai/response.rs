//! Owns OpenAI response bodies in both directions: a provider's
//! `chat.completion` into the canonical response, and the canonical response
//! back into a `chat.completion` for an OpenAI-format client.

use serde_json::{Value, json};
use signalbox_core::{OutcomeClass, ProviderErrorCode};

use super::wire;
use crate::canonical::{ChatResponse, Choice, Part, StopReason, ToolCall, Usage};
use crate::error::{ProviderError, ResponseError};
use crate::turns::text_of;

const PROVIDER: &str = "openai";

/// Parses a provider's `chat.completion` body.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ResponseError> {
    let c: wire::Completion =
        serde_json::from_slice(body).map_err(|e| ResponseError::new(PROVIDER, e.to_string()))?;
    let provider_stop_reason = c.choices.first().and_then(|ch| ch.finish_reason.clone());
    let choices = c
        .choices
        .into_iter()
        .map(|ch| {
            let mut content = Vec::new();
            content.extend(ch.message.content.filter(|t| !t.is_empty()).map(Part::Text));
            content.extend(ch.message.refusal.map(Part::Text));
            content.extend(
                ch.message
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| {
                        Part::ToolCall(ToolCall {
                            id: t.id,
                            name: t.function.name,
                            arguments: t.function.arguments,
                        })
                    }),
            );
            Choice {
                index: ch.index,
                content,
                stop_reason: ch
                    .finish_reason
                    .as_deref()
                    .map_or(StopReason::Other, StopReason::from_openai),
            }
        })
        .collect();
    let usage = c.usage.unwrap_or_default();
    Ok(ChatResponse {
        id: c.id,
        model: c.model,
        choices,
        usage: Usage {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
        },
        provider_stop_reason,
    })
}

/// Renders a canonical response as a `chat.completion` body; `created` is
/// the Unix time to report.
pub fn render_response(resp: &ChatResponse, created: u64) -> Vec<u8> {
    let choices: Vec<Value> = resp
        .choices
        .iter()
        .map(|c| {
            let text = text_of(&c.content);
            let calls: Vec<Value> = c
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::ToolCall(t) => Some(json!({
                        "id": t.id,
                        "type": "function",
                        "function": {"name": t.name, "arguments": t.arguments},
                    })),
                    _ => None,
                })
                .collect();
            let mut message = json!({
                "role": "assistant",
                "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
            });
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            json!({
                "index": c.index,
                "message": message,
                "logprobs": null,
                "finish_reason": c.stop_reason.openai(),
            })
        })
        .collect();
    let body = json!({
        "id": resp.id,
        "object": "chat.completion",
        "created": created,
        "model": resp.model,
        "choices": choices,
        "usage": usage_json(resp.usage),
    });
    body.to_string().into_bytes()
}

pub(super) fn usage_json(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

/// Classifies an OpenAI-format error answer (`{"error": {...}}`).
pub fn parse_error(status: u16, body: &[u8]) -> ProviderError {
    let detail = serde_json::from_slice::<wire::ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let kind = detail.as_ref().and_then(|d| {
        d.code
            .as_ref()
            .and_then(|c| c.as_str().map(str::to_owned))
            .or_else(|| d.kind.clone())
    });
    let ids = detail
        .as_ref()
        .map(|d| ProviderErrorCode {
            code: d.code.as_ref().and_then(scalar_text),
            kind: d.kind.clone(),
            param: d.param.as_ref().and_then(scalar_text),
        })
        .unwrap_or_default();
    ProviderError {
        provider: PROVIDER,
        class: OutcomeClass::from_status(status),
        status: Some(status),
        kind,
        message: detail.and_then(|d| d.message),
        ids,
    }
}

/// A JSON string or number as text (OpenAI-compatible servers send codes
/// as either); `None` for anything else.
fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
