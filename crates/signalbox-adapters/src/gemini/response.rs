//! Owns reading Gemini `GenerateContentResponse`s (whole or streamed) and
//! classifying Gemini error answers.

use serde::Deserialize;
use serde_json::Value;
use signalbox_core::{OutcomeClass, ProviderErrorCode};

use crate::canonical::{ChatResponse, Choice, Part, StopReason, ToolCall, Usage};
use crate::error::{ProviderError, ResponseError};

const PROVIDER: &str = "gemini";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Response {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub model_version: String,
    #[serde(default)]
    pub response_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate {
    pub content: Option<Content>,
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub index: u32,
}

#[derive(Deserialize)]
pub(super) struct Content {
    #[serde(default)]
    pub parts: Vec<ResponsePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResponsePart {
    pub text: Option<String>,
    #[serde(default)]
    pub thought: bool,
    pub function_call: Option<FunctionCall>,
}

#[derive(Deserialize)]
pub(super) struct FunctionCall {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub args: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PromptFeedback {
    pub block_reason: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub thoughts_token_count: u64,
}

impl From<UsageMetadata> for Usage {
    fn from(u: UsageMetadata) -> Self {
        Self {
            input_tokens: u.prompt_token_count,
            output_tokens: u.candidates_token_count + u.thoughts_token_count,
        }
    }
}

/// Maps a Gemini `finishReason`; a plain stop after function calls means
/// the model waits for tool results.
pub(super) fn stop_reason(reason: &str, called_tools: bool) -> StopReason {
    match reason {
        "STOP" if called_tools => StopReason::ToolCalls,
        "STOP" => StopReason::Stop,
        "MAX_TOKENS" => StopReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            StopReason::ContentFilter
        }
        _ => StopReason::Other,
    }
}

/// Canonical parts of one candidate; calls without an id get `call_<n>`,
/// numbered from `first_call`.
pub(super) fn parts(content: Option<Content>, first_call: u32) -> Vec<Part> {
    let mut n = first_call;
    content
        .map(|c| c.parts)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.thought)
        .flat_map(|p| {
            let text = p.text.filter(|t| !t.is_empty()).map(Part::Text);
            let call = p.function_call.map(|f| {
                let id = f.id.unwrap_or_else(|| format!("call_{n}"));
                n += 1;
                Part::ToolCall(ToolCall {
                    id,
                    name: f.name,
                    arguments: f.args.to_string(),
                })
            });
            text.into_iter().chain(call)
        })
        .collect()
}

/// Parses a Gemini `generateContent` body.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ResponseError> {
    let r: Response =
        serde_json::from_slice(body).map_err(|e| ResponseError::new(PROVIDER, e.to_string()))?;
    let mut provider_stop_reason = None;
    let mut choices: Vec<Choice> = r
        .candidates
        .into_iter()
        .map(|c| {
            let content = parts(c.content, 0);
            let called = content.iter().any(|p| matches!(p, Part::ToolCall(_)));
            let reason = c.finish_reason.as_deref().unwrap_or("OTHER");
            if provider_stop_reason.is_none() {
                provider_stop_reason = c.finish_reason.clone();
            }
            Choice {
                index: c.index,
                stop_reason: stop_reason(reason, called),
                content,
            }
        })
        .collect();
    // A blocked prompt has no candidates, only feedback.
    if let Some(block) = r.prompt_feedback.and_then(|f| f.block_reason)
        && choices.is_empty()
    {
        choices.push(Choice {
            index: 0,
            content: Vec::new(),
            stop_reason: StopReason::ContentFilter,
        });
        provider_stop_reason = Some(block);
    }
    Ok(ChatResponse {
        id: r.response_id,
        model: r.model_version,
        choices,
        usage: r.usage_metadata.map(Usage::from).unwrap_or_default(),
        provider_stop_reason,
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    status: Option<String>,
}

/// Classifies a Gemini error answer (`{"error": {"code", "message", "status"}}`).
pub fn parse_error(status: u16, body: &[u8]) -> ProviderError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let (kind, message) = detail.map_or((None, None), |d| (d.status, d.message));
    // Gemini answers an invalid key with 400 INVALID_ARGUMENT.
    let bad_key = String::from_utf8_lossy(body).contains("API_KEY_INVALID");
    let class = match kind.as_deref() {
        _ if bad_key => OutcomeClass::AuthRejected,
        Some("RESOURCE_EXHAUSTED") => OutcomeClass::RateLimited,
        Some("UNAVAILABLE" | "INTERNAL") => OutcomeClass::ServerError,
        Some("DEADLINE_EXCEEDED") => OutcomeClass::Timeout,
        Some("UNAUTHENTICATED" | "PERMISSION_DENIED") => OutcomeClass::AuthRejected,
        _ => OutcomeClass::from_status(status),
    };
    ProviderError {
        provider: PROVIDER,
        class,
        status: Some(status),
        ids: ProviderErrorCode {
            code: kind.clone(),
            ..ProviderErrorCode::default()
        },
        kind,
        message,
    }
}
