//! Owns reading Cohere v2 Chat answers and classifying Cohere error bodies.

use serde::Deserialize;
use signalbox_core::{OutcomeClass, ProviderErrorCode};

use crate::canonical::{ChatResponse, Choice, Part, StopReason, ToolCall, Usage};
use crate::error::{ProviderError, ResponseError};

pub(super) const PROVIDER: &str = "cohere";

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    id: String,
    finish_reason: Option<String>,
    message: Option<AssistantMessage>,
    usage: Option<CohereUsage>,
}

#[derive(Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Vec<ContentBlock>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
pub(super) struct WireToolCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<WireFunction>,
}

#[derive(Deserialize)]
pub(super) struct WireFunction {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// `usage`: what was billed, and the tokens the model saw (which include
/// Cohere's own preamble).
#[derive(Deserialize, Clone, Copy)]
pub(super) struct CohereUsage {
    billed_units: Option<Counts>,
    tokens: Option<Counts>,
}

#[derive(Deserialize, Clone, Copy)]
struct Counts {
    #[serde(default)]
    input_tokens: f64,
    #[serde(default)]
    output_tokens: f64,
}

impl From<CohereUsage> for Usage {
    /// The billed units when present (what the account is charged, so what
    /// cost accounting needs), else the raw token counts. Cohere sends the
    /// counts as JSON numbers that may carry a fraction; they are whole.
    fn from(u: CohereUsage) -> Self {
        let counts = u.billed_units.or(u.tokens);
        counts.map_or_else(Usage::default, |c| Self {
            input_tokens: whole(c.input_tokens),
            output_tokens: whole(c.output_tokens),
        })
    }
}

/// A non-negative count as an integer.
fn whole(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n.round() as u64
    } else {
        0
    }
}

/// The canonical reason for Cohere's `finish_reason`.
pub(super) fn stop_reason(reason: &str) -> StopReason {
    match reason.to_ascii_uppercase().as_str() {
        "COMPLETE" | "STOP_SEQUENCE" => StopReason::Stop,
        "MAX_TOKENS" => StopReason::Length,
        "TOOL_CALL" => StopReason::ToolCalls,
        "CONTENT_BLOCKED" | "ERROR_TOXIC" => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// A tool call, with an id made up from its position when Cohere sent none.
pub(super) fn tool_call(call: WireToolCall, n: usize) -> Option<ToolCall> {
    let function = call.function?;
    Some(ToolCall {
        id: call.id.unwrap_or_else(|| format!("call_{n}")),
        name: function.name?,
        arguments: function.arguments.unwrap_or_else(|| "{}".to_owned()),
    })
}

/// Parses a 2xx, non-streamed Cohere answer.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ResponseError> {
    let r: Response =
        serde_json::from_slice(body).map_err(|e| ResponseError::new(PROVIDER, e.to_string()))?;
    let message = r
        .message
        .ok_or_else(|| ResponseError::new(PROVIDER, "the answer has no `message`"))?;
    let mut content: Vec<Part> = message
        .content
        .into_iter()
        .filter(|b| b.kind == "text" && !b.text.is_empty())
        .map(|b| Part::Text(b.text))
        .collect();
    content.extend(
        message
            .tool_calls
            .into_iter()
            .enumerate()
            .filter_map(|(n, c)| tool_call(c, n))
            .map(Part::ToolCall),
    );
    let reason = r.finish_reason.as_deref().unwrap_or("COMPLETE");
    Ok(ChatResponse {
        id: r.id,
        model: String::new(),
        choices: vec![Choice {
            index: 0,
            content,
            stop_reason: stop_reason(reason),
        }],
        usage: r.usage.map(Usage::from).unwrap_or_default(),
        provider_stop_reason: r.finish_reason,
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

/// Classifies a Cohere error answer (`{"id": …, "message": …}`); Cohere
/// names no error type, so the class comes from the status.
pub fn parse_error(status: u16, body: &[u8]) -> ProviderError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message);
    ProviderError {
        provider: PROVIDER,
        class: OutcomeClass::from_status(status),
        status: Some(status),
        kind: None,
        message,
        ids: ProviderErrorCode::default(),
    }
}
