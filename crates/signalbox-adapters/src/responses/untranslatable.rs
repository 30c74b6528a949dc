//! Owns what a Responses body may carry that the chat APIs cannot, and
//! that a provider serving the Responses API itself can: built-in tools
//! (`web_search`, `file_search`, `code_interpreter`, `mcp`, …), the items
//! their earlier calls left in the conversation (`web_search_call`, …),
//! and files (`input_file`, images by `file_id`). The body keeps them for
//! a passthrough; the canonical request is read without them, and the
//! first one is named in the origin's `untranslatable`, so translating the
//! request for a chat route fails naming its path (the route cannot carry
//! it: skipped, and with no route left a 400 naming it) instead of losing
//! it. What needs state Signalbox does not keep (`previous_response_id`,
//! `conversation`, `item_reference`) and types the Responses API does not
//! have stay refused at ingress, naming the field.

use serde_json::{Map, Value};

/// Built-in (hosted) tool types: run by the provider, not the client.
const BUILT_IN_TOOLS: [&str; 12] = [
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "computer_use_preview",
    "code_interpreter",
    "image_generation",
    "mcp",
    "local_shell",
    "shell",
    "apply_patch",
    "custom",
];

/// Input items a built-in tool's earlier call leaves in the conversation.
const BUILT_IN_ITEMS: [&str; 14] = [
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "code_interpreter_call",
    "image_generation_call",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "custom_tool_call",
    "custom_tool_call_output",
];

/// Why a field goes only to a route serving the Responses API.
const ONLY_PASSED_THROUGH: &str = "is only carried to routes serving the Responses API \
     (`endpoint: [chat, responses]`), and only while no privacy boundary, prompt or \
     degradation rewrites the request";

/// `tools[i].type: built-in tool `…` is only carried …` for the first
/// part of the body the chat APIs cannot carry.
pub(super) fn first_untranslatable(map: &Map<String, Value>) -> Option<String> {
    let tools = map
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, tool) in tools.enumerate() {
        if let Some(kind) = built_in(tool, &BUILT_IN_TOOLS) {
            return Some(format!(
                "tools[{i}].type: built-in tool `{kind}` {ONLY_PASSED_THROUGH}"
            ));
        }
    }
    let items = map
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, item) in items.enumerate() {
        if let Some(kind) = built_in(item, &BUILT_IN_ITEMS) {
            return Some(format!(
                "input[{i}].type: item `{kind}` {ONLY_PASSED_THROUGH}"
            ));
        }
        let parts = item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for (j, part) in parts.enumerate() {
            if let Some(kind) = file_part(part) {
                return Some(format!(
                    "input[{i}].content[{j}]: {kind} {ONLY_PASSED_THROUGH}"
                ));
            }
        }
    }
    None
}

/// The body without what [`first_untranslatable`] finds, for reading the
/// canonical request (copied only when there is something to leave out).
pub(super) fn translatable_view(map: &Map<String, Value>) -> Map<String, Value> {
    let mut view = map.clone();
    if let Some(Value::Array(tools)) = view.get_mut("tools") {
        tools.retain(|t| built_in(t, &BUILT_IN_TOOLS).is_none());
    }
    if let Some(Value::Array(items)) = view.get_mut("input") {
        items.retain(|i| built_in(i, &BUILT_IN_ITEMS).is_none());
        for item in items.iter_mut() {
            if let Some(Value::Array(parts)) = item.get_mut("content") {
                parts.retain(|p| file_part(p).is_none());
            }
        }
    }
    view
}

/// The value's `type` when it is one of `kinds`.
fn built_in<'a>(value: &'a Value, kinds: &[&str]) -> Option<&'a str> {
    value
        .get("type")
        .and_then(Value::as_str)
        .filter(|k| kinds.contains(k))
}

/// What a content part refers to by a stored file, if it does: an
/// `input_file`, or an `input_image` given by `file_id` only.
fn file_part(part: &Value) -> Option<&'static str> {
    match part.get("type").and_then(Value::as_str) {
        Some("input_file") => Some("content type `input_file`"),
        Some("input_image") if part.get("image_url").is_none() && part.get("file_id").is_some() => {
            Some("an `input_image` by `file_id`")
        }
        _ => None,
    }
}
