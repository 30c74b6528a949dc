//! Owns writing a canonical answer as a `text_completion` object, and
//! canonical stream events as its SSE chunks.

use serde_json::{Value, json};

use crate::canonical::{ChatResponse, StopReason, StreamEvent, Usage};

/// A canonical answer (its first choice's text) as a `text_completion`.
pub fn render_response(resp: &ChatResponse, created: u64) -> Vec<u8> {
    let reason = resp
        .choices
        .first()
        .map_or(StopReason::Stop, |c| c.stop_reason);
    let mut out = envelope(&resp.id, &resp.model, created);
    out["choices"] = json!([choice(&resp.text(), Some(reason))]);
    out["usage"] = usage(resp.usage);
    out.to_string().into_bytes()
}

fn envelope(id: &str, model: &str, created: u64) -> Value {
    json!({ "id": id, "object": "text_completion", "created": created, "model": model })
}

fn choice(text: &str, reason: Option<StopReason>) -> Value {
    let finish = reason.map(|r| match r {
        StopReason::ToolCalls => "stop",
        other => other.openai(),
    });
    json!({ "text": text, "index": 0, "logprobs": null, "finish_reason": finish })
}

fn usage(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}

/// Renders canonical stream events as completion chunks; `finish` ends
/// the stream with the usage chunk (when asked for) and `data: [DONE]`.
#[derive(Debug)]
pub struct SseEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Option<Usage>,
}

impl SseEncoder {
    /// An encoder; `include_usage` mirrors `stream_options.include_usage`.
    pub fn new(created: u64, include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: String::new(),
            created,
            include_usage,
            usage: None,
        }
    }

    /// The SSE bytes for one event (text and the stop of choice 0).
    pub fn encode(&mut self, event: &StreamEvent) -> Vec<u8> {
        match event {
            StreamEvent::Start { id, model } => {
                id.clone_into(&mut self.id);
                model.clone_into(&mut self.model);
                Vec::new()
            }
            StreamEvent::TextDelta { choice: 0, text } => self.chunk(choice(text, None)),
            StreamEvent::Stop { choice: 0, reason } => self.chunk(choice("", Some(*reason))),
            StreamEvent::Usage(u) => {
                self.usage = Some(*u);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The usage chunk (when asked for), then the end marker.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let (true, Some(u)) = (self.include_usage, self.usage.take()) {
            let mut chunk = envelope(&self.id, &self.model, self.created);
            chunk["choices"] = json!([]);
            chunk["usage"] = usage(u);
            out.extend_from_slice(format!("data: {chunk}\n\n").as_bytes());
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        out
    }

    fn chunk(&self, choice: Value) -> Vec<u8> {
        let mut chunk = envelope(&self.id, &self.model, self.created);
        chunk["choices"] = json!([choice]);
        format!("data: {chunk}\n\n").into_bytes()
    }
}
