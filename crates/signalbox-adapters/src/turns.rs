//! Owns the conversation walk shared by targets that take alternating
//! user/model turns of typed parts (Gemini, Bedrock): system messages left
//! out (they go to the target's system field), unsupported hints noted,
//! consecutive turns of one role merged.

use serde_json::{Value, json};

use crate::canonical::{ChatRequest, Image, Part, Role, ToolCall, ToolResult};
use crate::error::TranslateError;
use crate::note::Notes;

/// How one target spells a turn and its parts.
pub(crate) trait TurnStyle {
    /// Target name for notes, e.g. `Gemini`.
    const TARGET: &'static str;
    /// The assistant's role name (`model`, `assistant`).
    const ASSISTANT: &'static str;
    /// The key holding a turn's parts (`parts`, `content`).
    const PARTS: &'static str;

    /// A text part.
    fn text(text: &str) -> Value;
    /// An image part (`i` is the message index, for errors).
    fn image(image: &Image, i: usize) -> Result<Value, TranslateError>;
    /// An assistant tool call.
    fn tool_call(call: &ToolCall, i: usize) -> Result<Value, TranslateError>;
    /// A tool result.
    fn tool_result(
        req: &ChatRequest,
        result: &ToolResult,
        i: usize,
        notes: &mut Notes,
    ) -> Result<Value, TranslateError>;
}

/// The non-system messages as turns in the target's spelling.
pub(crate) fn turns<S: TurnStyle>(
    req: &ChatRequest,
    notes: &mut Notes,
) -> Result<Vec<Value>, TranslateError> {
    let mut out: Vec<Value> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        if m.role == Role::System {
            continue;
        }
        if m.name.is_some() {
            notes.dropped(
                format!("messages[{i}].name"),
                format!("{} turns have no name", S::TARGET),
            );
        }
        let role = if m.role == Role::Assistant {
            S::ASSISTANT
        } else {
            "user"
        };
        let mut parts = Vec::with_capacity(m.content.len());
        for p in &m.content {
            match p {
                // OpenAI sends "" beside tool calls; targets reject empty text.
                Part::Text(t) if t.is_empty() && m.content.len() > 1 => {}
                Part::Text(t) => parts.push(S::text(t)),
                Part::Image(img) => {
                    if img.detail.is_some() {
                        notes.dropped(
                            format!("messages[{i}].image.detail"),
                            format!("{} has no detail hint", S::TARGET),
                        );
                    }
                    parts.push(S::image(img, i)?);
                }
                Part::ToolCall(c) => parts.push(S::tool_call(c, i)?),
                Part::ToolResult(r) => parts.push(S::tool_result(req, r, i, notes)?),
            }
        }
        match out.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(Value::Array(prev)) = last.get_mut(S::PARTS) {
                    prev.extend(parts);
                }
            }
            _ => out.push(json!({"role": role, S::PARTS: parts})),
        }
    }
    Ok(out)
}

pub(crate) use crate::canonical::text_of;
