//! Owns restoring tokens in what the provider sends back: whole texts and
//! non-streaming chat-completions responses. The same scanner drives the
//! stream restorer, which is what makes chunked and whole restores agree.
//!
//! Answers are restored at the JSON-value level (strings are decoded before
//! they are scanned), so however an upstream escaped the JSON (`\u27e6`, as
//! Python's `json.dumps` writes `⟦`) the token is found. Tool-call
//! arguments are JSON text inside that string, escaped once more: their
//! scanner reads `\uXXXX` escapes too.

use std::borrow::Cow;

use serde_json::Value;

use crate::report::RestoreStats;
use crate::request::{arguments, content_texts};
use crate::token::{Opening, TokenAt, TokenTable, Written, needs_scan, next_opening, token_at};

/// How a restored value is written into the text it lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// Plain text (message content).
    #[default]
    None,
    /// Inside a JSON string (tool-call `arguments` are JSON text): quotes,
    /// backslashes and control characters are escaped.
    JsonString,
}

impl Escape {
    /// How a token's characters may be written in such text: JSON text
    /// may escape any of them (`\u27e6EMAIL_1\u27e7`).
    pub(crate) const fn written(self) -> Written {
        match self {
            Self::None => Written::Plain,
            Self::JsonString => Written::Json,
        }
    }
}

/// Restores the tokens in `text`; borrowed when there is nothing to do.
pub fn restore_text<'t>(
    text: &'t str,
    table: &TokenTable,
    escape: Escape,
    stats: &mut RestoreStats,
) -> Cow<'t, str> {
    if !needs_scan(text.as_bytes(), escape.written()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    restore_into(text, table, escape, true, &mut out, stats);
    Cow::Owned(out)
}

/// Restores tokens in a chat-completions response body in place:
/// `choices[].message.content` and `tool_calls[].function.arguments`.
pub fn restore_chat_response(body: &mut Value, table: &TokenTable) -> RestoreStats {
    let mut stats = RestoreStats::default();
    let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) else {
        return stats;
    };
    for message in choices.iter_mut().filter_map(|c| c.get_mut("message")) {
        let mut contents = Vec::new();
        if let Some(content) = message.get_mut("content") {
            content_texts(content, &mut contents);
        }
        for text in contents {
            rewrite(text, table, Escape::None, &mut stats);
        }
        if let Some(Value::Array(calls)) = message.get_mut("tool_calls") {
            for args in calls
                .iter_mut()
                .filter_map(|call| arguments(call.get_mut("function")))
            {
                rewrite(args, table, Escape::JsonString, &mut stats);
            }
        }
        if let Some(args) = arguments(message.get_mut("function_call")) {
            rewrite(args, table, Escape::JsonString, &mut stats);
        }
    }
    stats
}

fn rewrite(text: &mut String, table: &TokenTable, escape: Escape, stats: &mut RestoreStats) {
    if let Cow::Owned(restored) = restore_text(text, table, escape, stats) {
        *text = restored;
    }
}

/// Appends `text` to `out` with known tokens replaced, and returns how many
/// bytes were consumed. With `at_end == false` it stops before a trailing
/// `⟦…` that could still become a token (or, in JSON text, a trailing
/// escape that could still be its bracket), so a stream can wait for more.
pub(crate) fn restore_into(
    text: &str,
    table: &TokenTable,
    escape: Escape,
    at_end: bool,
    out: &mut String,
    stats: &mut RestoreStats,
) -> usize {
    let written = escape.written();
    let b = text.as_bytes();
    let mut token = String::new();
    let mut copied = 0;
    let mut pos = 0;
    while let Some(opening) = next_opening(b, pos, written) {
        let (at, open_len) = match opening {
            Opening::At { at, len } => (at, len),
            Opening::Cut { at } if !at_end => {
                out.push_str(&text[copied..at]);
                return at;
            }
            Opening::Cut { .. } => break,
        };
        match token_at(&b[at..], written, &mut token) {
            TokenAt::Complete(len) => {
                if let Some(value) = table.value_of(&token) {
                    out.push_str(&text[copied..at]);
                    push_escaped(out, value, escape);
                    copied = at + len;
                    stats.restored += 1;
                } else {
                    stats.unknown += 1;
                }
                pos = at + len;
            }
            TokenAt::Incomplete if !at_end => {
                out.push_str(&text[copied..at]);
                return at;
            }
            TokenAt::Incomplete | TokenAt::Invalid => {
                stats.malformed += 1;
                pos = at + open_len;
            }
        }
    }
    out.push_str(&text[copied..]);
    text.len()
}

fn push_escaped(out: &mut String, value: &str, escape: Escape) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::JsonString => {
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => out.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
