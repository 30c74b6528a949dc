//! Owns reading Converse responses and ConverseStream events, and
//! classifying Bedrock errors.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use signalbox_core::{OutcomeClass, ProviderErrorCode};

use super::eventstream::Frame;
use crate::canonical::{ChatResponse, Choice, Part, StopReason, StreamEvent, ToolCall, Usage};
use crate::error::{ProviderError, ResponseError, StreamError};

const PROVIDER: &str = "bedrock";

#[derive(Deserialize)]
struct Response {
    output: Output,
    #[serde(rename = "stopReason")]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: TokenUsage,
}

#[derive(Deserialize)]
struct Output {
    message: Option<OutputMessage>,
}

#[derive(Deserialize)]
struct OutputMessage {
    #[serde(default)]
    content: Vec<Block>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Block {
    text: Option<String>,
    tool_use: Option<ToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse {
    tool_use_id: String,
    name: String,
    #[serde(default)]
    input: Value,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct TokenUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_write_input_tokens: u64,
}

impl From<TokenUsage> for Usage {
    fn from(u: TokenUsage) -> Self {
        Self {
            input_tokens: u.input_tokens + u.cache_read_input_tokens + u.cache_write_input_tokens,
            output_tokens: u.output_tokens,
        }
    }
}

/// Maps a Converse `stopReason`.
fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" | "stop_sequence" => StopReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => StopReason::Length,
        "tool_use" => StopReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// Parses a Converse body. Converse answers carry no id or model name; the
/// caller fills them in (request id header, route model) if it needs them.
pub fn parse_response(body: &[u8]) -> Result<ChatResponse, ResponseError> {
    let r: Response =
        serde_json::from_slice(body).map_err(|e| ResponseError::new(PROVIDER, e.to_string()))?;
    let content = r
        .output
        .message
        .map(|m| m.content)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|b| {
            let text = b.text.map(Part::Text);
            let call = b.tool_use.map(|t| {
                Part::ToolCall(ToolCall {
                    id: t.tool_use_id,
                    name: t.name,
                    arguments: t.input.to_string(),
                })
            });
            text.into_iter().chain(call)
        })
        .collect();
    Ok(ChatResponse {
        id: String::new(),
        model: String::new(),
        choices: vec![Choice {
            index: 0,
            content,
            stop_reason: r
                .stop_reason
                .as_deref()
                .map_or(StopReason::Other, stop_reason),
        }],
        usage: r.usage.into(),
        provider_stop_reason: r.stop_reason,
    })
}

/// The class of a Bedrock error type (`x-amzn-ErrorType`, or a stream
/// exception's `:exception-type`), falling back to the status.
fn error_class(kind: Option<&str>, status: Option<u16>) -> OutcomeClass {
    let kind = kind.map(|k| k.split(':').next().unwrap_or(k).to_ascii_lowercase());
    match kind.as_deref() {
        Some("throttlingexception") => OutcomeClass::RateLimited,
        Some(
            "serviceunavailableexception"
            | "internalserverexception"
            | "modelerrorexception"
            | "modelnotreadyexception"
            | "modelstreamerrorexception",
        ) => OutcomeClass::ServerError,
        Some("modeltimeoutexception") => OutcomeClass::Timeout,
        Some("accessdeniedexception" | "unrecognizedclientexception") => OutcomeClass::AuthRejected,
        Some("validationexception" | "resourcenotfoundexception") => OutcomeClass::RequestRejected,
        _ => status.map_or(OutcomeClass::ServerError, OutcomeClass::from_status),
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(alias = "Message")]
    message: Option<String>,
}

/// Classifies a Bedrock error answer; `error_type` is the
/// `x-amzn-ErrorType` header when present.
pub fn parse_error(status: u16, error_type: Option<&str>, body: &[u8]) -> ProviderError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message);
    let kind = error_type.map(|k| k.split(':').next().unwrap_or(k).to_owned());
    ProviderError {
        provider: PROVIDER,
        class: error_class(kind.as_deref(), Some(status)),
        status: Some(status),
        ids: ProviderErrorCode {
            code: kind.clone(),
            ..ProviderErrorCode::default()
        },
        kind,
        message,
    }
}

/// The class of a mid-stream `StreamEvent::Error` kind from Bedrock.
pub(crate) fn stream_error_class(kind: &str) -> OutcomeClass {
    error_class(Some(kind), None)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamPayload {
    content_block_index: Option<u32>,
    start: Option<BlockStart>,
    delta: Option<BlockDelta>,
    stop_reason: Option<String>,
    usage: Option<TokenUsage>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    tool_use: Option<ToolStart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolStart {
    tool_use_id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    text: Option<String>,
    tool_use: Option<ToolDelta>,
}

#[derive(Deserialize)]
struct ToolDelta {
    #[serde(default)]
    input: String,
}

/// Turns ConverseStream frames into canonical events.
#[derive(Debug, Default)]
pub(super) struct FrameEvents {
    started: bool,
    /// Content block index → tool call index.
    tool_blocks: HashMap<u32, u32>,
    next_tool: u32,
}

impl FrameEvents {
    pub(super) fn on_frame(&mut self, frame: &Frame) -> Result<Vec<StreamEvent>, StreamError> {
        let mut p: StreamPayload =
            serde_json::from_slice(&frame.payload).map_err(|e| bad(format!("{e}")))?;
        if let Some(error) = error_event(frame, &mut p.message) {
            return Ok(vec![error]);
        }
        let mut out = Vec::new();
        let event = frame.header_str(":event-type").unwrap_or_default();
        if !self.started && event != "metadata" {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: String::new(),
            });
        }
        let block = p.content_block_index.unwrap_or(0);
        match event {
            "contentBlockStart" => {
                if let Some(t) = p.start.and_then(|s| s.tool_use) {
                    out.push(self.tool_start(block, t));
                }
            }
            "contentBlockDelta" => {
                let delta = p
                    .delta
                    .ok_or_else(|| bad("contentBlockDelta without delta".into()))?;
                self.block_delta(block, delta, &mut out);
            }
            "messageStop" => out.push(StreamEvent::Stop {
                choice: 0,
                reason: p
                    .stop_reason
                    .as_deref()
                    .map_or(StopReason::Other, stop_reason),
            }),
            "metadata" => {
                if let Some(u) = p.usage {
                    out.push(StreamEvent::Usage(u.into()));
                }
            }
            _ => {} // messageStart, contentBlockStop
        }
        Ok(out)
    }

    /// A tool use block opens: it gets the next tool call index, which its
    /// deltas find by block index.
    fn tool_start(&mut self, block: u32, t: ToolStart) -> StreamEvent {
        let index = self.next_tool;
        self.next_tool += 1;
        self.tool_blocks.insert(block, index);
        StreamEvent::ToolCallStart {
            choice: 0,
            index,
            id: t.tool_use_id,
            name: t.name,
        }
    }

    /// A block's delta: text, and arguments for the tool call the block opened.
    fn block_delta(&self, block: u32, delta: BlockDelta, out: &mut Vec<StreamEvent>) {
        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::TextDelta { choice: 0, text });
        }
        if let (Some(t), Some(&index)) = (delta.tool_use, self.tool_blocks.get(&block))
            && !t.input.is_empty()
        {
            out.push(StreamEvent::ToolCallDelta {
                choice: 0,
                index,
                arguments: t.input,
            });
        }
    }
}

/// A malformed stream event.
fn bad(problem: String) -> StreamError {
    StreamError::Event {
        provider: PROVIDER,
        problem,
    }
}

/// An `exception` frame (its message in the payload) or an `error` frame (its
/// code and message in headers) as the stream's error event.
fn error_event(frame: &Frame, message: &mut Option<String>) -> Option<StreamEvent> {
    match frame.header_str(":message-type")? {
        "exception" => Some(StreamEvent::Error {
            kind: frame
                .header_str(":exception-type")
                .unwrap_or("exception")
                .to_owned(),
            message: message.take().unwrap_or_default(),
        }),
        "error" => Some(StreamEvent::Error {
            kind: frame
                .header_str(":error-code")
                .unwrap_or("error")
                .to_owned(),
            message: frame
                .header_str(":error-message")
                .unwrap_or_default()
                .to_owned(),
        }),
        _ => None,
    }
}
