//! Owns writing a canonical answer as a Response object, and the pieces
//! the stream encoder shares with it (the envelope, items, usage).

use serde_json::{Value, json};

use crate::canonical::{ChatResponse, Part, StopReason, Usage};

/// A canonical answer (its first choice) as a Response object, created at
/// `created_at` (Unix seconds).
pub fn render_response(resp: &ChatResponse, created_at: u64) -> Vec<u8> {
    let id = response_id(&resp.id);
    let (parts, reason) = match resp.choices.first() {
        Some(c) => (c.content.as_slice(), c.stop_reason),
        None => (&[][..], StopReason::Other),
    };
    let mut output = Vec::new();
    let text: String = parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if !text.is_empty() {
        output.push(message_item(&format!("msg_{id}"), &text, "completed"));
    }
    for part in parts {
        if let Part::ToolCall(call) = part {
            output.push(call_item(
                &call.id,
                &call.name,
                &call.arguments,
                "completed",
            ));
        }
    }
    let mut out = envelope(&id, &resp.model, created_at, status(reason));
    out["output"] = Value::Array(output);
    out["incomplete_details"] = incomplete(reason);
    out["usage"] = usage_json(resp.usage);
    out.to_string().into_bytes()
}

/// `resp_…`: the provider's id, prefixed as the Responses API names them.
pub(super) fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else {
        format!("resp_{id}")
    }
}

/// The Response object without output or usage.
pub(super) fn envelope(id: &str, model: &str, created_at: u64, status: &str) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "model": model,
        "output": [],
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "metadata": {},
        "parallel_tool_calls": true,
        "temperature": null,
        "top_p": null,
        "tool_choice": "auto",
        "tools": [],
        "text": { "format": { "type": "text" } },
        "store": false,
        "usage": null,
    })
}

/// A finished answer's status: `incomplete` when a limit or a filter cut it.
pub(super) fn status(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Length | StopReason::ContentFilter => "incomplete",
        _ => "completed",
    }
}

/// Why an incomplete answer stopped (`null` for a complete one).
pub(super) fn incomplete(reason: StopReason) -> Value {
    match reason {
        StopReason::Length => json!({ "reason": "max_output_tokens" }),
        StopReason::ContentFilter => json!({ "reason": "content_filter" }),
        _ => Value::Null,
    }
}

/// An assistant message item holding one text part.
pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [ text_part(text) ],
    })
}

/// An `output_text` content part.
pub(super) fn text_part(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [] })
}

/// A function call item.
pub(super) fn call_item(call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call",
        "id": format!("fc_{call_id}"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

/// The Responses API's usage object.
pub(super) fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": { "cached_tokens": 0 },
        "output_tokens": u.output_tokens,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": u.input_tokens + u.output_tokens,
    })
}
