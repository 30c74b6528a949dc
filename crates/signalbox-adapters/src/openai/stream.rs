//! Owns OpenAI streams in both directions: a provider's
//! `chat.completion.chunk` events into canonical stream events, and
//! canonical events back into chunks for an OpenAI-format client.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::response::usage_json;
use super::wire;
use crate::canonical::{StopReason, StreamEvent, Usage};
use crate::error::StreamError;

const PROVIDER: &str = "openai";

/// Decodes the `data` payloads of an OpenAI-format SSE stream.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    /// `(choice, index)` of tool calls already announced.
    calls: HashSet<(u32, u32)>,
}

impl ChunkDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one SSE event's `data`; `[DONE]` and blank keep-alives yield
    /// nothing.
    pub fn on_data(&mut self, data: &str) -> Result<Vec<StreamEvent>, StreamError> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(Vec::new());
        }
        let chunk: wire::Chunk = serde_json::from_str(data).map_err(|e| StreamError::Event {
            provider: PROVIDER,
            problem: e.to_string(),
        })?;
        let mut out = Vec::new();
        if let Some(err) = chunk.error {
            out.push(StreamEvent::Error {
                kind: err.kind.unwrap_or_else(|| "error".into()),
                message: err.message.unwrap_or_default(),
            });
            return Ok(out);
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk.id,
                model: chunk.model,
            });
        }
        for c in chunk.choices {
            let choice = c.index;
            for text in [c.delta.content, c.delta.refusal].into_iter().flatten() {
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta { choice, text });
                }
            }
            for call in c.delta.tool_calls.unwrap_or_default() {
                let (name, arguments) = match call.function {
                    Some(f) => (f.name, f.arguments),
                    None => (None, None),
                };
                if self.calls.insert((choice, call.index)) {
                    out.push(StreamEvent::ToolCallStart {
                        choice,
                        index: call.index,
                        id: call.id.unwrap_or_default(),
                        name: name.unwrap_or_default(),
                    });
                }
                if let Some(arguments) = arguments.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ToolCallDelta {
                        choice,
                        index: call.index,
                        arguments,
                    });
                }
            }
            if let Some(reason) = c.finish_reason {
                out.push(StreamEvent::Stop {
                    choice,
                    reason: StopReason::from_openai(&reason),
                });
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
            }));
        }
        Ok(out)
    }
}

/// Renders canonical stream events as OpenAI SSE chunks for a client.
#[derive(Debug)]
pub struct SseEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage_sent: bool,
}

impl SseEncoder {
    /// An encoder taking over a stream whose first chunks went out as
    /// another upstream wrote them (a broken stream continued on another
    /// route): its chunks keep that stream's `id` and `model`.
    pub fn resume(&mut self, id: &str, model: &str) {
        id.clone_into(&mut self.id);
        model.clone_into(&mut self.model);
    }

    /// An encoder; `include_usage` mirrors the client's
    /// `stream_options.include_usage`.
    pub fn new(created: u64, include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: String::new(),
            created,
            include_usage,
            usage_sent: false,
        }
    }

    /// The SSE bytes (zero or more `data: …\n\n` events) for one event.
    pub fn encode(&mut self, event: &StreamEvent) -> Vec<u8> {
        match event {
            StreamEvent::Start { id, model } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                self.chunk(0, json!({"role": "assistant", "content": ""}), None)
            }
            StreamEvent::TextDelta { choice, text } => {
                self.chunk(*choice, json!({"content": text}), None)
            }
            StreamEvent::ToolCallStart {
                choice,
                index,
                id,
                name,
            } => self.chunk(
                *choice,
                json!({"tool_calls": [{
                    "index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}),
                None,
            ),
            StreamEvent::ToolCallDelta {
                choice,
                index,
                arguments,
            } => self.chunk(
                *choice,
                json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}),
                None,
            ),
            StreamEvent::Stop { choice, reason } => {
                self.chunk(*choice, json!({}), Some(reason.openai()))
            }
            StreamEvent::Usage(u) if self.include_usage && !self.usage_sent => {
                self.usage_sent = true;
                let mut chunk = self.envelope();
                chunk["choices"] = json!([]);
                chunk["usage"] = usage_json(*u);
                sse(&chunk)
            }
            StreamEvent::Usage(_) => Vec::new(),
            StreamEvent::Error { kind, message } => {
                sse(&json!({"error": {"message": message, "type": kind}}))
            }
        }
    }

    /// The end-of-stream marker.
    pub fn finish(&mut self) -> Vec<u8> {
        b"data: [DONE]\n\n".to_vec()
    }

    fn envelope(&self) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        })
    }

    fn chunk(&self, choice: u32, delta: Value, finish: Option<&str>) -> Vec<u8> {
        let mut chunk = self.envelope();
        chunk["choices"] = json!([{
            "index": choice, "delta": delta, "logprobs": null, "finish_reason": finish,
        }]);
        sse(&chunk)
    }
}

/// One `data: <json>\n\n` event.
fn sse(value: &Value) -> Vec<u8> {
    format!("data: {value}\n\n").into_bytes()
}
