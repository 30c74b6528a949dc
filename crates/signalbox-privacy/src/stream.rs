//! Owns restoring tokens in streamed answers.
//!
//! A `StreamRestorer` is fed successive delta strings of one field. It
//! releases everything at once except a trailing `⟦…` that could still
//! become a token (at most `MAX_TOKEN_LEN` bytes), which it holds until the
//! next delta decides it, or until `finish`. Decisions are made by the same
//! scanner as the whole-text restore, so for any split of a text the
//! concatenated output equals `restore_text` of the whole.
//!
//! `ChatStreamRestorer` applies this to a chat answer's stream, as OpenAI
//! chat-completions chunks or as decoded canonical events: one restorer
//! per choice for its text, and one per choice and tool call for the
//! call's arguments.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use signalbox_core::canonical::StreamEvent;

use crate::report::RestoreStats;
use crate::restore::{Escape, restore_into};
use crate::token::{TokenTable, needs_scan};

/// Restores tokens across the successive deltas of one streamed text.
#[derive(Debug)]
pub struct StreamRestorer {
    table: Arc<TokenTable>,
    escape: Escape,
    held: String,
    stats: RestoreStats,
}

impl StreamRestorer {
    /// A restorer for one field; `escape` is `JsonString` for tool-call arguments.
    #[must_use]
    pub fn new(table: Arc<TokenTable>, escape: Escape) -> Self {
        Self {
            table,
            escape,
            held: String::new(),
            stats: RestoreStats::default(),
        }
    }

    /// Restores what can be restored of `delta` now; may return less than
    /// was given (a possible token prefix is held back) or more (a held
    /// prefix completed).
    pub fn push<'d>(&mut self, delta: &'d str) -> Cow<'d, str> {
        if self.held.is_empty() && !needs_scan(delta.as_bytes(), self.escape.written()) {
            return Cow::Borrowed(delta);
        }
        let mut pending = std::mem::take(&mut self.held);
        pending.push_str(delta);
        let mut out = String::with_capacity(pending.len());
        let consumed = restore_into(
            &pending,
            &self.table,
            self.escape,
            false,
            &mut out,
            &mut self.stats,
        );
        pending.drain(..consumed);
        self.held = pending;
        Cow::Owned(out)
    }

    /// Releases whatever is held (a token cut off by the end of the stream
    /// is left as it is and counted as malformed).
    pub fn flush(&mut self) -> String {
        let held = std::mem::take(&mut self.held);
        let mut out = String::with_capacity(held.len());
        restore_into(
            &held,
            &self.table,
            self.escape,
            true,
            &mut out,
            &mut self.stats,
        );
        out
    }

    /// Bytes currently held back.
    #[must_use]
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Counts so far.
    #[must_use]
    pub const fn stats(&self) -> RestoreStats {
        self.stats
    }
}

/// Which streamed field of a choice a restorer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Content,
    ToolArguments(u64),
}

/// Restores tokens in OpenAI chat-completions stream chunks, in place.
#[derive(Debug)]
pub struct ChatStreamRestorer {
    table: Arc<TokenTable>,
    fields: Vec<(u64, Field, StreamRestorer)>,
    stats: RestoreStats,
}

impl ChatStreamRestorer {
    /// A restorer for one streamed response.
    #[must_use]
    pub fn new(table: Arc<TokenTable>) -> Self {
        Self {
            table,
            fields: Vec::new(),
            stats: RestoreStats::default(),
        }
    }

    /// Restores one parsed `data:` chunk in place. When a choice carries a
    /// `finish_reason`, whatever its restorers still hold is appended to
    /// that chunk's delta.
    pub fn restore_chunk(&mut self, chunk: &mut Value) {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return;
        };
        for (position, choice) in choices.iter_mut().enumerate() {
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let finished = choice.get("finish_reason").is_some_and(|r| !r.is_null());
            let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(Value::String(content)) = delta.get_mut("content") {
                self.push(index, Field::Content, content);
            }
            if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
                for (call_position, call) in calls.iter_mut().enumerate() {
                    let call_index = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(call_position as u64);
                    if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                        self.push(index, Field::ToolArguments(call_index), args);
                    }
                }
            }
            if finished {
                self.flush_into(index, delta);
            }
        }
    }

    /// Restores decoded stream events in place. What a restorer holds back
    /// (a possible token prefix) comes out in a later delta or, at its
    /// choice's stop, in a delta inserted just before the stop; a delta
    /// left empty is dropped.
    pub fn restore_events(&mut self, events: &mut Vec<StreamEvent>) {
        let mut out = Vec::with_capacity(events.len());
        for mut event in events.drain(..) {
            match &mut event {
                StreamEvent::TextDelta { choice, text } => {
                    self.push(u64::from(*choice), Field::Content, text);
                    if text.is_empty() {
                        continue;
                    }
                }
                StreamEvent::ToolCallDelta {
                    choice,
                    index,
                    arguments,
                } => {
                    let field = Field::ToolArguments(u64::from(*index));
                    self.push(u64::from(*choice), field, arguments);
                    if arguments.is_empty() {
                        continue;
                    }
                }
                StreamEvent::Stop { choice, .. } => out.extend(self.flush_events(*choice)),
                _ => {}
            }
            out.push(event);
        }
        *events = out;
    }

    /// Ends a decoded stream: what was still held (a stream that ended
    /// without its stops), as deltas, and the counts for the whole answer.
    pub fn finish_events(mut self) -> (Vec<StreamEvent>, RestoreStats) {
        let mut choices: Vec<u64> = self.fields.iter().map(|(i, _, _)| *i).collect();
        choices.sort_unstable();
        choices.dedup();
        let mut tail = Vec::new();
        for choice in choices {
            tail.extend(self.flush_events(u32::try_from(choice).unwrap_or(u32::MAX)));
        }
        (tail, self.stats)
    }

    /// Removes the restorers of `choice`, returning what they held as deltas.
    fn flush_events(&mut self, choice: u32) -> Vec<StreamEvent> {
        let mut delta = Map::new();
        self.flush_into(u64::from(choice), &mut delta);
        let mut events = Vec::new();
        if let Some(Value::String(text)) = delta.remove("content") {
            events.push(StreamEvent::TextDelta { choice, text });
        }
        let calls = match delta.remove("tool_calls") {
            Some(Value::Array(calls)) => calls,
            _ => Vec::new(),
        };
        for call in calls {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Value::as_str) {
                events.push(StreamEvent::ToolCallDelta {
                    choice,
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    arguments: arguments.to_owned(),
                });
            }
        }
        events
    }

    /// Ends the stream: returns a chunk-shaped `{"choices": [...]}` with what
    /// was still held (for streams that ended without `finish_reason`), and
    /// the counts for the whole response.
    pub fn finish(mut self) -> (Option<Value>, RestoreStats) {
        let mut indices: Vec<u64> = self.fields.iter().map(|(i, _, _)| *i).collect();
        indices.sort_unstable();
        indices.dedup();
        let mut choices = Vec::new();
        for index in indices {
            let mut delta = Map::new();
            self.flush_into(index, &mut delta);
            if !delta.is_empty() {
                choices.push(json!({ "index": index, "delta": delta }));
            }
        }
        let tail = (!choices.is_empty()).then(|| json!({ "choices": choices }));
        (tail, self.stats)
    }

    /// Counts so far, including fields already flushed.
    #[must_use]
    pub fn stats(&self) -> RestoreStats {
        let mut stats = self.stats;
        for (_, _, restorer) in &self.fields {
            stats.merge(restorer.stats());
        }
        stats
    }

    fn push(&mut self, index: u64, field: Field, text: &mut String) {
        let position = self
            .fields
            .iter()
            .position(|(i, f, _)| *i == index && *f == field);
        let restorer = match position {
            Some(p) => &mut self.fields[p].2,
            None => {
                let escape = if field == Field::Content {
                    Escape::None
                } else {
                    Escape::JsonString
                };
                self.fields.push((
                    index,
                    field,
                    StreamRestorer::new(Arc::clone(&self.table), escape),
                ));
                let last = self.fields.len() - 1;
                &mut self.fields[last].2
            }
        };
        if let Cow::Owned(restored) = restorer.push(text) {
            *text = restored;
        }
    }

    /// Removes the restorers of choice `index`, appending what they held to `delta`.
    fn flush_into(&mut self, index: u64, delta: &mut Map<String, Value>) {
        let mut kept = Vec::with_capacity(self.fields.len());
        for (i, field, mut restorer) in self.fields.drain(..) {
            if i != index {
                kept.push((i, field, restorer));
                continue;
            }
            let tail = restorer.flush();
            self.stats.merge(restorer.stats());
            if tail.is_empty() {
                continue;
            }
            match field {
                Field::Content => append_string(delta, "content", &tail),
                Field::ToolArguments(call) => append_tool_arguments(delta, call, &tail),
            }
        }
        self.fields = kept;
    }
}

fn append_string(object: &mut Map<String, Value>, key: &str, tail: &str) {
    match object.get_mut(key) {
        Some(Value::String(text)) => text.push_str(tail),
        _ => {
            object.insert(key.to_owned(), Value::String(tail.to_owned()));
        }
    }
}

fn append_tool_arguments(delta: &mut Map<String, Value>, call: u64, tail: &str) {
    let calls = delta
        .entry("tool_calls")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(calls) = calls else {
        return;
    };
    let existing = calls
        .iter_mut()
        .find(|c| c.get("index").and_then(Value::as_u64) == Some(call))
        .and_then(|c| c.as_object_mut());
    if let Some(existing) = existing {
        let function = existing.entry("function").or_insert_with(|| json!({}));
        if let Some(function) = function.as_object_mut() {
            append_string(function, "arguments", tail);
        }
    } else {
        calls.push(json!({ "index": call, "function": { "arguments": tail } }));
    }
}

#[cfg(test)]
mod tests;
