//! Owns Anthropic `message` bodies in both directions, the stop-reason
//! mapping, and the classification of Anthropic error answers.

use serde_json::{Value, json};
use signalbox_core::{OutcomeClass, ProviderErrorCode};

use super::render::arguments;
use super::wire;
use crate::canonical::{ChatResponse, Choice, Part, StopReason, ToolCall, Usage};
use crate::error::{ProviderError, ResponseError};

const PROVIDER: &str = "anthropic";

/// Maps an Anthropic `stop_reason`.
pub(crate) fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" | "stop_sequence" => StopReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => StopReason::Length,
        "tool_use" => StopReason::ToolCalls,
        "refusal" => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// The Anthropic `stop_reason` for a canonical one.
pub(crate) fn anthropic_stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Stop | StopReason::Other => "end_turn",
        StopReason::Length => "max_tokens",
        StopReason::ToolCalls => "tool_use",
        StopReason::ContentFilter => "refusal",
    }
}

pub(super) fn content_part(block: wire::ResponseBlock) -> Option<Part> {
    match block {
        wire::ResponseBlock::Text { text } => Some(Part::Text(text)),
        wire::ResponseBlock::ToolUse { id, name, input } => Some(Part::ToolCall(ToolCall {
            id,
            name,
            arguments: input.to_string(),
        })),
        wire::ResponseBlock::Other => None,
    }
}

/// Parses an Anthropic `message` body.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ResponseError> {
    let r: wire::Response =
        serde_json::from_slice(body).map_err(|e| ResponseError::new(PROVIDER, e.to_string()))?;
    let reason = r
        .stop_reason
        .as_deref()
        .map_or(StopReason::Other, stop_reason);
    Ok(ChatResponse {
        id: r.id,
        model: r.model,
        choices: vec![Choice {
            index: 0,
            content: r.content.into_iter().filter_map(content_part).collect(),
            stop_reason: reason,
        }],
        usage: Usage {
            input_tokens: r.usage.all_input(),
            output_tokens: r.usage.output_tokens,
        },
        provider_stop_reason: r.stop_reason,
    })
}

/// Renders a canonical response as an Anthropic `message` body (first
/// choice only: Anthropic clients cannot ask for more).
pub fn render_response(resp: &ChatResponse) -> Vec<u8> {
    let (content, reason) = match resp.choices.first() {
        Some(c) => (
            c.content.iter().filter_map(block).collect::<Vec<_>>(),
            c.stop_reason,
        ),
        None => (Vec::new(), StopReason::Other),
    };
    json!({
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": anthropic_stop_reason(reason),
        "stop_sequence": null,
        "usage": {"input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens},
    })
    .to_string()
    .into_bytes()
}

fn block(p: &Part) -> Option<Value> {
    match p {
        Part::Text(t) => Some(json!({"type": "text", "text": t})),
        Part::ToolCall(c) => Some(json!({
            "type": "tool_use",
            "id": c.id,
            "name": c.name,
            // Models occasionally emit broken JSON; pass it as a string
            // rather than failing the whole answer.
            "input": arguments(&c.arguments, 0).unwrap_or_else(|_| json!({"_raw": c.arguments})),
        })),
        _ => None,
    }
}

/// Classifies an Anthropic error answer (`{"type": "error", "error": {...}}`).
pub fn parse_error(status: u16, body: &[u8]) -> ProviderError {
    let detail = serde_json::from_slice::<wire::ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let (kind, message) = detail.map_or((None, None), |d| (d.kind, d.message));
    ProviderError {
        provider: PROVIDER,
        class: error_class(Some(status), kind.as_deref()),
        status: Some(status),
        ids: ProviderErrorCode {
            kind: kind.clone(),
            ..ProviderErrorCode::default()
        },
        kind,
        message,
    }
}

/// The class of an Anthropic error, by status or (mid-stream) by type.
pub(crate) fn error_class(status: Option<u16>, kind: Option<&str>) -> OutcomeClass {
    match kind {
        Some("overloaded_error" | "api_error") => OutcomeClass::ServerError,
        Some("rate_limit_error") => OutcomeClass::RateLimited,
        Some("authentication_error" | "permission_error") => OutcomeClass::AuthRejected,
        Some("invalid_request_error" | "not_found_error" | "request_too_large") => {
            OutcomeClass::RequestRejected
        }
        _ => status.map_or(OutcomeClass::ServerError, OutcomeClass::from_status),
    }
}
