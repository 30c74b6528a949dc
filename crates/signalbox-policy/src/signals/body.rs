//! What the request body tells the policy: tools offered, images, the last
//! user message, and the intent the configured rules derive from it.

use serde_json::Value;
use signalbox_core::SignalSource;

use crate::snapshot::PolicySnapshot;

pub(super) fn classify_intent(
    snap: &PolicySnapshot,
    has_tools: bool,
    body: &serde_json::Map<String, Value>,
) -> (String, SignalSource, Option<usize>) {
    let intents = &snap.config.intents;
    let mut last_user: Option<String> = None;
    for (i, rule) in intents.rules.iter().enumerate() {
        if rule.when.tools.is_some_and(|t| t != has_tools) {
            continue;
        }
        if let Some(re) = &rule.when.last_user_message {
            let text = last_user.get_or_insert_with(|| last_user_text(body));
            if !re.is_match(text) {
                continue;
            }
        }
        return (rule.intent.clone(), SignalSource::Rule, Some(i));
    }
    (intents.default.clone(), SignalSource::Default, None)
}

/// The text of the last user message (string content or text parts).
pub(crate) fn last_user_text(body: &serde_json::Map<String, Value>) -> String {
    let Some(Value::Array(messages)) = body.get("messages") else {
        return String::new();
    };
    let Some(msg) = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    else {
        return String::new();
    };
    match msg.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

pub(super) fn tool_names(body: &serde_json::Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(tools)) = body.get("tools") else {
        return Vec::new();
    };
    tools
        .iter()
        .map(|t| {
            t.get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| t.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_string()
        })
        .collect()
}

pub(super) fn has_images(body: &serde_json::Map<String, Value>) -> bool {
    let Some(Value::Array(messages)) = body.get("messages") else {
        return false;
    };
    messages.iter().any(|m| match m.get("content") {
        Some(Value::Array(parts)) => parts.iter().any(|p| {
            matches!(
                p.get("type").and_then(Value::as_str),
                Some("image_url" | "input_image" | "image")
            )
        }),
        _ => false,
    })
}
