//! Owns what `on-stream-break: continue` reads from a stream's pieces: the
//! text a broken stream had delivered (the prefill its continuation starts
//! from, taken before privacy tokens are restored, so it is what the
//! provider wrote), whether anything but text went out (a tool call or a
//! thinking block cannot be continued from a prefill), and the head of a
//! continuation's stream that the caller must not see twice (a second
//! role chunk, `message_start`, `content_block_start`).

use bytes::Bytes;
use serde_json::Value;
use signalbox_core::canonical::StreamEvent;
use signalbox_dispatch::Piece;

/// What a stream delivered before it broke.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    /// Choice 0's text, as the provider wrote it.
    pub text: String,
    /// Something other than text went out: no prefill can continue it.
    pub not_text: bool,
    /// The stream reached its stop (nothing left to continue).
    pub stopped: bool,
}

impl Delivered {
    /// Notes one piece passed to the caller.
    pub fn note(&mut self, piece: &Piece) {
        match piece {
            Piece::Events(events) => events.iter().for_each(|e| self.note_event(e)),
            Piece::Wire(bytes) => each_data(bytes, |event, data| self.note_wire(event, data)),
            Piece::End { .. } | Piece::Cut(_) => {}
        }
    }

    fn note_event(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::TextDelta { choice: 0, text } => self.text.push_str(text),
            StreamEvent::TextDelta { .. }
            | StreamEvent::ToolCallStart { .. }
            | StreamEvent::ToolCallDelta { .. } => self.not_text = true,
            StreamEvent::Stop { .. } => self.stopped = true,
            StreamEvent::Start { .. } | StreamEvent::Usage(_) | StreamEvent::Error { .. } => {}
        }
    }

    /// One event passed on as written: an OpenAI chunk or an Anthropic event.
    fn note_wire(&mut self, event: Option<&str>, data: &str) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return;
        };
        if event.is_some() || v.get("type").is_some_and(Value::is_string) {
            return self.note_anthropic(&v);
        }
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return;
        };
        for choice in choices {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let delta = choice.get("delta");
            let content = delta.and_then(|d| d.get("content")).and_then(Value::as_str);
            match (index, content) {
                (0, Some(text)) => self.text.push_str(text),
                (_, Some(text)) if !text.is_empty() => self.not_text = true,
                _ => {}
            }
            let other = |k: &str| delta.and_then(|d| d.get(k)).is_some_and(|x| !x.is_null());
            if other("tool_calls") || other("function_call") || other("reasoning_content") {
                self.not_text = true;
            }
            if choice.get("finish_reason").is_some_and(|f| !f.is_null()) {
                self.stopped = true;
            }
        }
    }

    fn note_anthropic(&mut self, v: &Value) {
        match v.get("type").and_then(Value::as_str) {
            Some("content_block_delta") => {
                let delta = v.get("delta");
                match delta.and_then(|d| d.get("type")).and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta.and_then(|d| d.get("text")).and_then(Value::as_str) {
                            self.text.push_str(t);
                        }
                    }
                    _ => self.not_text = true,
                }
            }
            Some("content_block_start") => {
                let kind = v.pointer("/content_block/type").and_then(Value::as_str);
                if kind != Some("text") {
                    self.not_text = true;
                }
            }
            Some("message_delta" | "message_stop") => self.stopped = true,
            _ => {}
        }
    }

    /// The prefill to continue from: the delivered text without trailing
    /// whitespace (Anthropic refuses a prefill ending in it), and whether
    /// some was trimmed (the continuation's leading whitespace is then
    /// dropped, so the caller does not get it twice).
    pub fn prefill(&self) -> (&str, bool) {
        let trimmed = self.text.trim_end();
        (trimmed, trimmed.len() != self.text.len())
    }
}

/// Calls `f(event name, data)` for every `data:` line of SSE `bytes`.
fn each_data(bytes: &Bytes, mut f: impl FnMut(Option<&str>, &str)) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let mut event = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = Some(name.trim());
        } else if let Some(data) = line.strip_prefix("data:") {
            f(event.take(), data.trim());
        } else if line.is_empty() {
            event = None;
        }
    }
}

/// Takes the head off a continuation's pieces: what would open a second
/// message for the caller is dropped until its first text arrives.
#[derive(Debug)]
pub(crate) struct Head {
    /// Still before the continuation's first text.
    open: bool,
    /// Drop the first text's leading whitespace (the prefill lost its own).
    trim_start: bool,
}

impl Head {
    pub fn new(trim_start: bool) -> Self {
        Self {
            open: true,
            trim_start,
        }
    }

    /// The piece without its head (`None` when nothing is left of it).
    pub fn strip(&mut self, piece: Piece) -> Option<Piece> {
        if !self.open {
            return Some(piece);
        }
        match piece {
            Piece::Events(events) => {
                let kept: Vec<StreamEvent> =
                    events.into_iter().filter_map(|e| self.event(e)).collect();
                (!kept.is_empty()).then_some(Piece::Events(kept))
            }
            Piece::Wire(bytes) => self.wire(&bytes).map(Piece::Wire),
            other => Some(other),
        }
    }

    fn event(&mut self, event: StreamEvent) -> Option<StreamEvent> {
        if !self.open {
            return Some(event);
        }
        match event {
            StreamEvent::Start { .. } => None,
            StreamEvent::TextDelta { choice, text } => {
                let text = self.first_text(&text)?;
                Some(StreamEvent::TextDelta { choice, text })
            }
            other => {
                self.open = false;
                Some(other)
            }
        }
    }

    /// The first text, trimmed as needed; `None` while it is all whitespace.
    fn first_text(&mut self, text: &str) -> Option<String> {
        let text = if self.trim_start {
            text.trim_start()
        } else {
            text
        };
        if text.is_empty() {
            return None;
        }
        self.open = false;
        Some(text.to_owned())
    }

    /// Whole SSE events passed on as written: the head's events dropped, the
    /// first text's leading whitespace trimmed.
    fn wire(&mut self, bytes: &Bytes) -> Option<Bytes> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut out = String::with_capacity(text.len());
        for block in text.split_inclusive("\n\n") {
            if !self.open {
                out.push_str(block);
                continue;
            }
            if let Some(kept) = self.wire_event(block) {
                out.push_str(&kept);
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    /// One event of the head: dropped, or (the first text) kept, trimmed.
    fn wire_event(&mut self, block: &str) -> Option<String> {
        let data = block
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .map(str::trim)?;
        let mut v: Value = serde_json::from_str(data).ok()?;
        let slot = match v.get("type").and_then(Value::as_str) {
            Some("content_block_delta") => v.pointer_mut("/delta/text"),
            Some(_) => return None, // message_start, content_block_start, ping
            None => v.pointer_mut("/choices/0/delta/content"),
        };
        let Some(Value::String(text)) = slot else {
            // A chunk without text: kept once the head is over (a finish).
            let finishes = v
                .pointer("/choices/0/finish_reason")
                .is_some_and(|f| !f.is_null());
            return finishes.then(|| {
                self.open = false;
                block.to_owned()
            });
        };
        let first = self.first_text(text)?;
        *text = first;
        let event = block
            .lines()
            .find(|l| l.starts_with("event:"))
            .map(|l| format!("{l}\n"))
            .unwrap_or_default();
        Some(format!("{event}data: {v}\n\n"))
    }
}

#[cfg(test)]
mod tests;
