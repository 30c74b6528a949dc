//! Owns decoding Gemini's `streamGenerateContent?alt=sse` events: each is a
//! whole `GenerateContentResponse` carrying the next piece of each candidate.

use std::collections::HashMap;

use super::response::{Response, parts, stop_reason};
use crate::canonical::{Part, StopReason, StreamEvent, Usage};
use crate::error::StreamError;

const PROVIDER: &str = "gemini";

/// Decodes the `data` payloads of a Gemini SSE stream.
#[derive(Debug, Default)]
pub struct ChunkDecoder {
    started: bool,
    /// Tool calls so far, per candidate.
    calls: HashMap<u32, u32>,
    /// Latest cumulative usage, sent once at the end.
    usage: Option<Usage>,
    usage_sent: bool,
}

impl ChunkDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one SSE event's `data`.
    pub fn on_data(&mut self, data: &str) -> Result<Vec<StreamEvent>, StreamError> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let r: Response = serde_json::from_str(data).map_err(|e| StreamError::Event {
            provider: PROVIDER,
            problem: e.to_string(),
        })?;
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: r.response_id,
                model: r.model_version,
            });
        }
        if let Some(u) = r.usage_metadata {
            self.usage = Some(u.into());
        }
        let mut finished = false;
        for c in r.candidates {
            let choice = c.index;
            let calls = self.calls.entry(choice).or_insert(0);
            for p in parts(c.content, *calls) {
                match p {
                    Part::Text(text) => out.push(StreamEvent::TextDelta { choice, text }),
                    Part::ToolCall(call) => {
                        let index = *calls;
                        *calls += 1;
                        out.push(StreamEvent::ToolCallStart {
                            choice,
                            index,
                            id: call.id,
                            name: call.name,
                        });
                        out.push(StreamEvent::ToolCallDelta {
                            choice,
                            index,
                            arguments: call.arguments,
                        });
                    }
                    _ => {}
                }
            }
            if let Some(reason) = c.finish_reason {
                finished = true;
                out.push(StreamEvent::Stop {
                    choice,
                    reason: stop_reason(&reason, *calls > 0),
                });
            }
        }
        if r.prompt_feedback.and_then(|f| f.block_reason).is_some() {
            finished = true;
            out.push(StreamEvent::Stop {
                choice: 0,
                reason: StopReason::ContentFilter,
            });
        }
        if finished {
            out.extend(self.finish());
        }
        Ok(out)
    }

    /// Usage, if it was seen and not yet sent (call at end of stream).
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        match self.usage {
            Some(u) if !self.usage_sent => {
                self.usage_sent = true;
                vec![StreamEvent::Usage(u)]
            }
            _ => Vec::new(),
        }
    }
}
