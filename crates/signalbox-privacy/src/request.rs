//! Owns applying a profile to an OpenAI chat-completions request body: every
//! text the provider would see. That is each message's `content` (a string,
//! or the `text` of each `{"type": "text"}` part) whatever the role (system,
//! developer, user, assistant, tool results), and the `function.arguments`
//! of assistant `tool_calls` (and legacy `function_call`) sent back.
//!
//! All texts are scanned before anything changes, so a `block` finding
//! anywhere leaves the body and the token table untouched.

use serde_json::Value;

use crate::error::ProtectError;
use crate::profile::PrivacyProfile;
use crate::report::ProtectReport;
use crate::restore::Escape;
use crate::token::TokenTable;

impl PrivacyProfile {
    /// Redacts and tokenises a chat-completions request body in place.
    pub fn protect_chat_request(
        &self,
        body: &mut Value,
        table: &mut TokenTable,
    ) -> Result<ProtectReport, ProtectError> {
        let mut texts = request_texts(body)?;
        let mut report = ProtectReport::default();
        let findings = self.scan_all(texts.iter().map(|(text, _)| text.as_str()), &mut report)?;
        for ((text, escape), found) in texts.iter_mut().zip(&findings) {
            if let Some(protected) = self.apply(text, found, *escape, Some(table)) {
                **text = protected;
            }
        }
        Ok(report)
    }
}

/// Mutable references to every provider-visible text in the request, with
/// how values inside it are encoded.
fn request_texts(body: &mut Value) -> Result<Vec<(&mut String, Escape)>, ProtectError> {
    let messages = body
        .as_object_mut()
        .ok_or(ProtectError::NotChatRequest("body is not a JSON object"))?
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .ok_or(ProtectError::NotChatRequest("`messages` is not an array"))?;
    let mut texts = Vec::new();
    for message in messages.iter_mut().filter_map(Value::as_object_mut) {
        for (key, value) in message.iter_mut() {
            match (key.as_str(), value) {
                ("content", value) => {
                    let mut contents = Vec::new();
                    content_texts(value, &mut contents);
                    texts.extend(contents.into_iter().map(|t| (t, Escape::None)));
                }
                ("tool_calls", Value::Array(calls)) => {
                    for call in calls {
                        if let Some(args) = arguments(call.get_mut("function")) {
                            texts.push((args, Escape::JsonString));
                        }
                    }
                }
                ("function_call", call) => {
                    texts.extend(arguments(Some(call)).map(|args| (args, Escape::JsonString)));
                }
                _ => {}
            }
        }
    }
    Ok(texts)
}

/// Texts of a `content` value: the string itself, or each text part's `text`.
pub(crate) fn content_texts<'v>(content: &'v mut Value, texts: &mut Vec<&'v mut String>) {
    match content {
        Value::String(text) => texts.push(text),
        Value::Array(parts) => {
            for part in parts.iter_mut().filter_map(Value::as_object_mut) {
                let is_text = part.get("type").and_then(Value::as_str) == Some("text");
                if let (true, Some(Value::String(text))) = (is_text, part.get_mut("text")) {
                    texts.push(text);
                }
            }
        }
        _ => {}
    }
}

/// `function.arguments` of a tool call, when it is a string.
pub(crate) fn arguments(function: Option<&mut Value>) -> Option<&mut String> {
    match function?.get_mut("arguments")? {
        Value::String(args) => Some(args),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
