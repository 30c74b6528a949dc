//! Owns decoding Cohere v2 Chat SSE events. Every event's `data` carries
//! its `type`: `message-start`, `content-start`/`-delta`/`-end`,
//! `tool-plan-delta`, `tool-call-start`/`-delta`/`-end`, `citation-*` and
//! `message-end` (with `finish_reason` and `usage`).

use serde::Deserialize;
use serde_json::Value;

use super::response::{CohereUsage, PROVIDER, WireToolCall, stop_reason, tool_call};
use crate::canonical::{StreamEvent, Usage};
use crate::error::StreamError;

/// The `finish_reason` of an answer Cohere could not finish.
const ERROR_REASON: &str = "ERROR";

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    message: Option<DeltaMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    usage: Option<CohereUsage>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct DeltaMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<WireToolCall>,
}

/// Decodes the `data` payloads of a Cohere SSE stream.
#[derive(Debug, Default)]
pub struct EventDecoder {
    /// Tool calls started so far (the index of the next one, when Cohere
    /// sends none).
    calls: u32,
}

impl EventDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one SSE event's `data`.
    pub fn on_data(&mut self, data: &str) -> Result<Vec<StreamEvent>, StreamError> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let ev: Event = serde_json::from_str(data).map_err(|e| StreamError::Event {
            provider: PROVIDER,
            problem: e.to_string(),
        })?;
        let delta = ev.delta.unwrap_or_default();
        let message = delta.message.unwrap_or_default();
        Ok(match ev.kind.as_str() {
            "message-start" => vec![StreamEvent::Start {
                id: ev.id.unwrap_or_default(),
                model: String::new(),
            }],
            "content-start" | "content-delta" => text_of(message.content.as_ref())
                .map(|text| StreamEvent::TextDelta { choice: 0, text })
                .into_iter()
                .collect(),
            "tool-call-start" => self.call_start(ev.index, message.tool_calls),
            "tool-call-delta" => call_delta(ev.index.unwrap_or(0), message.tool_calls),
            "message-end" => message_end(delta.finish_reason, delta.usage, delta.error),
            // content-end, tool-plan-delta, tool-call-end, citation-*, debug.
            _ => Vec::new(),
        })
    }

    fn call_start(&mut self, index: Option<u32>, call: Option<WireToolCall>) -> Vec<StreamEvent> {
        let index = index.unwrap_or(self.calls);
        self.calls = self.calls.max(index + 1);
        let Some(call) = call.and_then(|c| tool_call(c, index as usize)) else {
            return Vec::new();
        };
        let mut out = vec![StreamEvent::ToolCallStart {
            choice: 0,
            index,
            id: call.id,
            name: call.name,
        }];
        if !call.arguments.is_empty() && call.arguments != "{}" {
            out.push(StreamEvent::ToolCallDelta {
                choice: 0,
                index,
                arguments: call.arguments,
            });
        }
        out
    }
}

/// The text of a `content` delta (`{"text": …}`), if not empty.
fn text_of(content: Option<&Value>) -> Option<String> {
    let text = content?.get("text")?.as_str()?;
    (!text.is_empty()).then(|| text.to_owned())
}

fn call_delta(index: u32, call: Option<WireToolCall>) -> Vec<StreamEvent> {
    call.and_then(|c| c.function)
        .and_then(|f| f.arguments)
        .filter(|a| !a.is_empty())
        .map(|arguments| StreamEvent::ToolCallDelta {
            choice: 0,
            index,
            arguments,
        })
        .into_iter()
        .collect()
}

/// The end of the answer: its stop reason and usage, or an error when
/// Cohere says it could not finish.
fn message_end(
    reason: Option<String>,
    usage: Option<CohereUsage>,
    error: Option<String>,
) -> Vec<StreamEvent> {
    let reason = reason.unwrap_or_else(|| "COMPLETE".to_owned());
    if reason.eq_ignore_ascii_case(ERROR_REASON) {
        return vec![StreamEvent::Error {
            kind: ERROR_REASON.to_owned(),
            message: error.unwrap_or_else(|| "Cohere ended the answer with an error".to_owned()),
        }];
    }
    let mut out = vec![StreamEvent::Stop {
        choice: 0,
        reason: stop_reason(&reason),
    }];
    if let Some(u) = usage {
        out.push(StreamEvent::Usage(Usage::from(u)));
    }
    out
}
