//! Owns Anthropic streams in both directions: `message_start` …
//! `message_stop` events into canonical stream events, and canonical events
//! back into Anthropic SSE events for an Anthropic-format client.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::response::{anthropic_stop_reason, content_part, stop_reason};
use super::wire;
use crate::canonical::{Part, StopReason, StreamEvent, Usage};
use crate::error::StreamError;

const PROVIDER: &str = "anthropic";

/// Decodes the `data` payloads of an Anthropic SSE stream.
#[derive(Debug, Default)]
pub struct EventDecoder {
    /// Input tokens announced by `message_start`.
    input_tokens: u64,
    /// Content block index → tool call index.
    tool_blocks: HashMap<u32, u32>,
    next_tool: u32,
}

impl EventDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one SSE event's `data` (the `event:` name repeats its `type`).
    pub fn on_data(&mut self, data: &str) -> Result<Vec<StreamEvent>, StreamError> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let event: wire::Event = serde_json::from_str(data).map_err(|e| StreamError::Event {
            provider: PROVIDER,
            problem: e.to_string(),
        })?;
        Ok(match event {
            wire::Event::MessageStart { message } => {
                self.input_tokens = message.usage.all_input();
                vec![StreamEvent::Start {
                    id: message.id,
                    model: message.model,
                }]
            }
            wire::Event::ContentBlockStart {
                index,
                content_block,
            } => self.on_block_start(index, content_block),
            wire::Event::ContentBlockDelta { index, delta } => self.on_block_delta(index, delta),
            wire::Event::MessageDelta { delta, usage } => self.on_message_delta(&delta, usage),
            wire::Event::ContentBlockStop { .. } | wire::Event::MessageStop | wire::Event::Ping => {
                Vec::new()
            }
            wire::Event::Error { error } => vec![StreamEvent::Error {
                kind: error.kind.unwrap_or_else(|| "error".into()),
                message: error.message.unwrap_or_default(),
            }],
        })
    }

    /// `content_block_start`: a tool call gets the next tool index (its
    /// deltas name the block); a text block may open with text.
    fn on_block_start(&mut self, index: u32, block: wire::ResponseBlock) -> Vec<StreamEvent> {
        match content_part(block) {
            Some(Part::ToolCall(call)) => {
                let tool = self.next_tool;
                self.next_tool += 1;
                self.tool_blocks.insert(index, tool);
                vec![StreamEvent::ToolCallStart {
                    choice: 0,
                    index: tool,
                    id: call.id,
                    name: call.name,
                }]
            }
            Some(Part::Text(text)) if !text.is_empty() => {
                vec![StreamEvent::TextDelta { choice: 0, text }]
            }
            _ => Vec::new(),
        }
    }

    /// `content_block_delta`: text, or arguments of the tool call the block opened.
    fn on_block_delta(&self, index: u32, delta: wire::BlockDelta) -> Vec<StreamEvent> {
        match delta {
            wire::BlockDelta::TextDelta { text } => {
                vec![StreamEvent::TextDelta { choice: 0, text }]
            }
            wire::BlockDelta::InputJsonDelta { partial_json } => {
                match self.tool_blocks.get(&index) {
                    Some(&tool) if !partial_json.is_empty() => {
                        vec![StreamEvent::ToolCallDelta {
                            choice: 0,
                            index: tool,
                            arguments: partial_json,
                        }]
                    }
                    _ => Vec::new(),
                }
            }
            wire::BlockDelta::Other => Vec::new(),
        }
    }

    /// `message_delta`: the stop reason, and usage (input counted with cache
    /// writes and reads; from `message_start` when the delta omits it).
    fn on_message_delta(
        &self,
        delta: &wire::MessageDelta,
        usage: Option<wire::DeltaUsage>,
    ) -> Vec<StreamEvent> {
        let mut out = Vec::with_capacity(2);
        if let Some(reason) = &delta.stop_reason {
            out.push(StreamEvent::Stop {
                choice: 0,
                reason: stop_reason(reason),
            });
        }
        if let Some(u) = usage {
            let input = match u.input_tokens {
                Some(i) => {
                    i + u.cache_creation_input_tokens.unwrap_or(0)
                        + u.cache_read_input_tokens.unwrap_or(0)
                }
                None => self.input_tokens,
            };
            out.push(StreamEvent::Usage(Usage {
                input_tokens: input,
                output_tokens: u.output_tokens,
            }));
        }
        out
    }
}

/// What kind of content block is open in the client's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Tool(u32),
}

/// Renders canonical stream events as Anthropic SSE events for a client.
/// Only choice 0 is rendered. `message_delta` waits for usage (or `finish`).
#[derive(Debug, Default)]
pub struct SseEncoder {
    started: bool,
    /// Next content block index.
    next_block: u32,
    open: Option<(Open, u32)>,
    /// Tool call index → its block index.
    tool_blocks: HashMap<u32, u32>,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    finished: bool,
}

impl SseEncoder {
    /// An encoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder taking over a stream whose start and first text block
    /// (index `text_block`) went out as another upstream wrote them (a
    /// broken stream continued on another route): text goes on in that
    /// block, and no second `message_start` is written.
    pub fn resume_in_text(&mut self, text_block: u32) {
        self.started = true;
        self.open = Some((Open::Text, text_block));
        self.next_block = self.next_block.max(text_block + 1);
    }

    /// The SSE bytes for one canonical event.
    pub fn encode(&mut self, event: &StreamEvent) -> Vec<u8> {
        let mut out = Vec::new();
        match event {
            StreamEvent::Start { id, model } => self.start(&mut out, id, model),
            StreamEvent::TextDelta { choice: 0, text } => {
                self.ensure_started(&mut out);
                if !matches!(self.open, Some((Open::Text, _))) {
                    let block =
                        self.open_block(&mut out, Open::Text, json!({"type": "text", "text": ""}));
                    self.open = Some((Open::Text, block));
                }
                let index = self.open.map_or(0, |(_, b)| b);
                push(
                    &mut out,
                    "content_block_delta",
                    &json!({
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": text},
                    }),
                );
            }
            StreamEvent::ToolCallStart {
                choice: 0,
                index,
                id,
                name,
            } => {
                self.ensure_started(&mut out);
                let block = self.open_block(
                    &mut out,
                    Open::Tool(*index),
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                );
                self.tool_blocks.insert(*index, block);
            }
            StreamEvent::ToolCallDelta {
                choice: 0,
                index,
                arguments,
            } => {
                if let Some(block) = self.tool_blocks.get(index) {
                    push(
                        &mut out,
                        "content_block_delta",
                        &json!({
                            "type": "content_block_delta", "index": block,
                            "delta": {"type": "input_json_delta", "partial_json": arguments},
                        }),
                    );
                }
            }
            StreamEvent::Stop { choice: 0, reason } => {
                self.close_block(&mut out);
                self.stop = Some(*reason);
            }
            StreamEvent::Usage(u) => {
                self.usage = Some(*u);
                if self.stop.is_some() {
                    self.end(&mut out);
                }
            }
            StreamEvent::Error { kind, message } => push(
                &mut out,
                "error",
                &json!({
                    "type": "error", "error": {"type": kind, "message": message},
                }),
            ),
            _ => {} // other choices: Anthropic clients cannot ask for them
        }
        out
    }

    /// Closes the message: pending `message_delta`, then `message_stop`.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.ensure_started(&mut out);
        self.close_block(&mut out);
        self.end(&mut out);
        out
    }

    fn start(&mut self, out: &mut Vec<u8>, id: &str, model: &str) {
        if self.started {
            return;
        }
        self.started = true;
        push(
            out,
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": id, "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                },
            }),
        );
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        self.start(out, "msg_signalbox", "unknown");
    }

    fn open_block(&mut self, out: &mut Vec<u8>, kind: Open, block: Value) -> u32 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        push(
            out,
            "content_block_start",
            &json!({
                "type": "content_block_start", "index": index, "content_block": block,
            }),
        );
        self.open = Some((kind, index));
        index
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            push(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let usage = self.usage.unwrap_or_default();
        push(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {
                    "stop_reason": anthropic_stop_reason(self.stop.unwrap_or(StopReason::Stop)),
                    "stop_sequence": null,
                },
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
            }),
        );
        push(out, "message_stop", &json!({"type": "message_stop"}));
    }
}

/// Appends `event: <name>\ndata: <json>\n\n`.
fn push(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
}
