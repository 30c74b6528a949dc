//! Owns reading a Cohere v2 Chat request into the format-neutral prompt.

use serde::Deserialize;
use serde_json::Value;

use crate::mock::{MockRequest, Parsed, Prompt, count_words};

#[derive(Deserialize)]
struct Request {
    model: String,
    messages: Vec<Message>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Deserialize)]
struct Tool {
    function: ToolFunction,
}

#[derive(Deserialize)]
struct ToolFunction {
    name: String,
}

impl Message {
    /// The message's text pieces: a string content, or the `text` of its
    /// blocks (`document` blocks of tool messages count by their `data`).
    fn texts(&self) -> Vec<&str> {
        match &self.content {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter_map(|b| {
                    b.get("text")
                        .or_else(|| b.get("document").and_then(|d| d.get("data")))
                        .and_then(Value::as_str)
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Parses a Chat request; `Err` carries the message of the 400 answer.
pub(super) fn parse(body: &[u8]) -> Result<Parsed<MockRequest>, String> {
    let request: Request =
        serde_json::from_slice(body).map_err(|e| format!("invalid chat request: {e}"))?;
    let mut prompt = Prompt {
        first_tool: request
            .tools
            .as_ref()
            .and_then(|t| t.first())
            .map(|t| t.function.name.clone()),
        ..Prompt::default()
    };
    for m in &request.messages {
        let texts = m.texts();
        if m.role == "tool" {
            // Tool results are words of the prompt, never the echo.
            prompt.words += texts.iter().map(|t| count_words(t)).sum::<u64>();
            prompt.messages += 1;
        } else {
            prompt.add_message(m.role == "user", texts);
        }
    }
    Ok(Parsed {
        request: MockRequest {
            model: request.model,
            include_usage: false,
            thinking: false,
            responses: false,
        },
        prompt,
        stream: request.stream.unwrap_or(false),
    })
}
