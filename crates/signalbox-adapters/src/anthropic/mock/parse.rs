//! Owns reading an Anthropic Messages request into the format-neutral prompt
//! (a JSON schema in `output_config.format` is answered natively, with the
//! canned object).

use serde::Deserialize;
use serde_json::Value;

use super::AnthropicRequest;
use crate::mock::Parsed;
use crate::mock::Prompt;

#[derive(Deserialize)]
struct Request {
    model: String,
    /// Required by the real API: a request without it is a 400 here too.
    #[serde(rename = "max_tokens")]
    _max_tokens: u32,
    messages: Vec<Message>,
    #[serde(default)]
    system: Option<Content>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
    #[serde(default)]
    thinking: Option<Thinking>,
    #[serde(default)]
    tool_choice: Option<serde_json::Value>,
    /// Structured output (`format`), enforced natively as the real API does.
    #[serde(default)]
    output_config: Option<Value>,
    /// The earlier beta's structured output.
    #[serde(default)]
    output_format: Option<Value>,
}

#[derive(Deserialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Content,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Blocks(Vec<Value>),
}

#[derive(Deserialize)]
struct Tool {
    name: String,
}

impl Content {
    /// Text blocks, plus the text of tool results (counted, never echoed).
    fn texts(&self) -> (Vec<&str>, Vec<&str>) {
        match self {
            Self::Text(t) => (vec![t.as_str()], Vec::new()),
            Self::Blocks(blocks) => {
                let mut texts = Vec::new();
                let mut results = Vec::new();
                for b in blocks {
                    match b["type"].as_str() {
                        Some("text") => texts.extend(b["text"].as_str()),
                        Some("tool_result") => match &b["content"] {
                            Value::String(s) => results.push(s.as_str()),
                            Value::Array(parts) => {
                                results.extend(parts.iter().filter_map(|p| p["text"].as_str()));
                            }
                            _ => {}
                        },
                        _ => {}
                    }
                }
                (texts, results)
            }
        }
    }
}

/// Parses a Messages request; `Err` carries the message of the 400 answer.
pub(super) fn parse(body: &[u8]) -> Result<Parsed<AnthropicRequest>, String> {
    let request: Request =
        serde_json::from_slice(body).map_err(|e| format!("invalid messages request: {e}"))?;
    let mut prompt = Prompt {
        first_tool: request
            .tools
            .as_ref()
            .and_then(|t| t.first())
            .map(|t| t.name.clone()),
        // `{"type": "tool"}` forces a call (structured output uses it).
        forced_tool: request
            .tool_choice
            .as_ref()
            .is_some_and(|c| c["type"] == "tool"),
        json_schema: request
            .output_config
            .as_ref()
            .and_then(|c| c.get("format"))
            .or(request.output_format.as_ref())
            .is_some_and(|f| f["type"] == "json_schema"),
        ..Prompt::default()
    };
    if let Some(system) = &request.system {
        prompt.add_message(false, system.texts().0);
    }
    for m in &request.messages {
        let (texts, results) = m.content.texts();
        prompt.add_message(m.role == "user", texts);
        prompt.words += results
            .iter()
            .map(|r| crate::mock::count_words(r))
            .sum::<u64>();
    }
    Ok(Parsed {
        request: AnthropicRequest {
            include_usage: false,
            model: request.model,
            thinking: request.thinking.is_some_and(|t| t.kind == "enabled"),
            responses: false,
        },
        prompt,
        stream: request.stream.unwrap_or(false),
    })
}
