//! Owns writing canonical stream events as the Responses event stream:
//! `response.created`, then per output item `response.output_item.added`,
//! its deltas (`response.output_text.delta`,
//! `response.function_call_arguments.delta`) and its `…done` events, and
//! last `response.completed` (or `response.incomplete`) carrying the whole
//! response with its usage, which SDKs take as the final answer. Every
//! event is named, carries its `type` and a `sequence_number`. Only choice
//! 0 is written (the Responses API has one output).

use serde_json::{Value, json};

use super::render::{
    call_item, envelope, incomplete, message_item, response_id, status, text_part, usage_json,
};
use crate::canonical::{StopReason, StreamEvent, Usage};

/// The open text item: its output index, id and text so far.
#[derive(Debug)]
struct OpenText {
    index: usize,
    id: String,
    text: String,
}

/// An open function call item.
#[derive(Debug)]
struct OpenCall {
    /// The canonical call index.
    call: u32,
    index: usize,
    call_id: String,
    name: String,
    arguments: String,
}

/// Renders canonical stream events as Responses events for a client.
#[derive(Debug)]
pub struct SseEncoder {
    created_at: u64,
    id: String,
    model: String,
    started: bool,
    sequence: u64,
    /// Finished output items with their output index, for the final response.
    done: Vec<(usize, Value)>,
    text: Option<OpenText>,
    calls: Vec<OpenCall>,
    stop: Option<StopReason>,
    usage: Option<Usage>,
    finished: bool,
}

impl SseEncoder {
    /// An encoder for a response created at `created_at` (Unix seconds).
    pub fn new(created_at: u64) -> Self {
        Self {
            created_at,
            id: response_id("signalbox"),
            model: String::new(),
            started: false,
            sequence: 0,
            done: Vec::new(),
            text: None,
            calls: Vec::new(),
            stop: None,
            usage: None,
            finished: false,
        }
    }

    /// The SSE bytes for one canonical event.
    pub fn encode(&mut self, event: &StreamEvent) -> Vec<u8> {
        let mut out = Vec::new();
        match event {
            StreamEvent::Start { id, model } => {
                self.id = response_id(id);
                model.clone_into(&mut self.model);
                self.start(&mut out);
            }
            StreamEvent::TextDelta { choice: 0, text } => self.text_delta(&mut out, text),
            StreamEvent::ToolCallStart {
                choice: 0,
                index,
                id,
                name,
            } => self.call_start(&mut out, *index, id, name),
            StreamEvent::ToolCallDelta {
                choice: 0,
                index,
                arguments,
            } => self.call_delta(&mut out, *index, arguments),
            StreamEvent::Stop { choice: 0, reason } => {
                self.start(&mut out);
                self.close_all(&mut out);
                self.stop = Some(*reason);
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error { kind, message } => {
                let data = json!({ "code": kind, "message": message, "param": null });
                self.push(&mut out, "error", data);
            }
            _ => {} // other choices: a Responses client cannot ask for them
        }
        out
    }

    /// Closes the response: open items, then `response.completed` (or
    /// `response.incomplete`) with the whole output and its usage.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.finished = true;
        self.start(&mut out);
        self.close_all(&mut out);
        let reason = self.stop.unwrap_or(StopReason::Stop);
        let mut response = envelope(&self.id, &self.model, self.created_at, status(reason));
        let mut done = std::mem::take(&mut self.done);
        done.sort_by_key(|(index, _)| *index);
        response["output"] = done.into_iter().map(|(_, item)| item).collect();
        response["incomplete_details"] = incomplete(reason);
        response["usage"] = self.usage.map_or(Value::Null, usage_json);
        let kind = match status(reason) {
            "incomplete" => "response.incomplete",
            _ => "response.completed",
        };
        self.push(&mut out, kind, json!({ "response": response }));
        out
    }

    /// The explicit error event that ends a broken stream; it carries an
    /// `error` object too, on which OpenAI SDKs raise.
    pub fn error(&mut self, code: &str, message: &str, extra: Value) -> Vec<u8> {
        let mut out = Vec::new();
        self.finished = true;
        let mut data = json!({
            "code": code, "message": message, "param": null,
            "error": { "message": message, "type": "upstream_error", "code": code },
        });
        if let (Value::Object(d), Value::Object(x)) = (&mut data, extra) {
            d.extend(x);
        }
        self.push(&mut out, "error", data);
        out
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = envelope(&self.id, &self.model, self.created_at, "in_progress");
        self.push(out, "response.created", json!({ "response": response }));
        let response = envelope(&self.id, &self.model, self.created_at, "in_progress");
        self.push(out, "response.in_progress", json!({ "response": response }));
    }

    fn text_delta(&mut self, out: &mut Vec<u8>, delta: &str) {
        self.start(out);
        if self.text.is_none() {
            let index = self.next_index();
            let id = format!("msg_{}", self.id.trim_start_matches("resp_"));
            let mut item = message_item(&id, "", "in_progress");
            item["content"] = json!([]);
            self.push(
                out,
                "response.output_item.added",
                json!({ "output_index": index, "item": item }),
            );
            let part = json!({ "item_id": id, "output_index": index, "content_index": 0, "part": text_part("") });
            self.push(out, "response.content_part.added", part);
            self.text = Some(OpenText {
                index,
                id,
                text: String::new(),
            });
        }
        let Some(open) = self.text.as_mut() else {
            return;
        };
        open.text.push_str(delta);
        let data = json!({
            "item_id": open.id, "output_index": open.index, "content_index": 0,
            "delta": delta, "logprobs": [],
        });
        self.push(out, "response.output_text.delta", data);
    }

    fn call_start(&mut self, out: &mut Vec<u8>, call: u32, call_id: &str, name: &str) {
        self.start(out);
        self.close_text(out);
        let index = self.next_index();
        let item = call_item(call_id, name, "", "in_progress");
        self.push(
            out,
            "response.output_item.added",
            json!({ "output_index": index, "item": item }),
        );
        self.calls.push(OpenCall {
            call,
            index,
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            arguments: String::new(),
        });
    }

    fn call_delta(&mut self, out: &mut Vec<u8>, call: u32, delta: &str) {
        let Some(open) = self.calls.iter_mut().find(|c| c.call == call) else {
            return;
        };
        open.arguments.push_str(delta);
        let data = json!({
            "item_id": format!("fc_{}", open.call_id), "output_index": open.index, "delta": delta,
        });
        self.push(out, "response.function_call_arguments.delta", data);
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        self.close_text(out);
        for open in std::mem::take(&mut self.calls) {
            let item_id = format!("fc_{}", open.call_id);
            let data = json!({ "item_id": item_id, "output_index": open.index, "arguments": open.arguments });
            self.push(out, "response.function_call_arguments.done", data);
            let item = call_item(&open.call_id, &open.name, &open.arguments, "completed");
            self.push(
                out,
                "response.output_item.done",
                json!({ "output_index": open.index, "item": item.clone() }),
            );
            self.done.push((open.index, item));
        }
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(open) = self.text.take() else {
            return;
        };
        let at = json!({ "item_id": open.id, "output_index": open.index, "content_index": 0 });
        let mut done = at.clone();
        done["text"] = json!(open.text);
        done["logprobs"] = json!([]);
        self.push(out, "response.output_text.done", done);
        let mut part = at;
        part["part"] = text_part(&open.text);
        self.push(out, "response.content_part.done", part);
        let item = message_item(&open.id, &open.text, "completed");
        self.push(
            out,
            "response.output_item.done",
            json!({ "output_index": open.index, "item": item.clone() }),
        );
        self.done.push((open.index, item));
    }

    /// The output index of the next item.
    fn next_index(&self) -> usize {
        self.done.len() + usize::from(self.text.is_some()) + self.calls.len()
    }

    /// One named event: `type` and `sequence_number` added to `data`.
    fn push(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.extend_from_slice(format!("event: {kind}\ndata: {data}\n\n").as_bytes());
    }
}
