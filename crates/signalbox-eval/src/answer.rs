//! Owns what a scorer reads of an answer: its text and its tool calls, as
//! any wire format's answer reduces to them.

use serde::{Deserialize, Serialize};

/// One answer to one case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The answer's text (all text parts, joined).
    #[serde(default)]
    pub text: String,
    /// The tool calls it made, in order.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// How long it took, when the caller measured it.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// What it cost in US dollars, when the caller knows the price.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// The model (and version) the answer names, when it names one.
    #[serde(default)]
    pub model: Option<String>,
}

/// One tool call: the tool's name and its arguments as the model wrote them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The tool called.
    pub name: String,
    /// The arguments: JSON text, possibly broken.
    pub arguments: String,
}

impl Answer {
    /// The first choice of an OpenAI chat completion: its text and tool calls.
    pub fn from_completion(completion: &serde_json::Value) -> Self {
        let message = &completion["choices"][0]["message"];
        let tool_calls = message["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| ToolCall {
                name: c["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                arguments: c["function"]["arguments"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect();
        Self {
            text: message["content"].as_str().unwrap_or_default().to_owned(),
            tool_calls,
            latency_ms: None,
            cost_usd: None,
            model: completion["model"].as_str().map(str::to_owned),
        }
    }

    /// An answer made of text only.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}
