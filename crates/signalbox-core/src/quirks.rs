//! Owns the per-provider differences of the OpenAI-compatible family
//! (vLLM, Ollama, Groq, Mistral, Together, DeepSeek, …), declared in config.
//! Plain data: the configuration reads it, `signalbox-adapters` applies it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Name of the output-limit field a provider accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_tokens` (understood by nearly every compatible server).
    #[default]
    MaxTokens,
    /// `max_completion_tokens` (OpenAI's current name; required by its
    /// reasoning models).
    MaxCompletionTokens,
}

/// What an OpenAI-compatible provider accepts. Every flag defaults to
/// OpenAI's own behaviour; set one to `false` when the provider rejects or
/// mishandles the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct OpenAiQuirks {
    /// Which output-limit field to send.
    pub max_tokens_field: MaxTokensField,
    /// Accepts `stream_options: {include_usage: true}` (without it, streamed
    /// usage may be missing).
    pub stream_options: bool,
    /// Accepts `seed`.
    pub seed: bool,
    /// Accepts a named `tool_choice` object; without it a named choice is
    /// sent as `"required"` with only that tool offered.
    pub tool_choice_object: bool,
    /// Accepts `parallel_tool_calls`.
    pub parallel_tool_calls: bool,
    /// Accepts `store` (the no-retention flag).
    pub store: bool,
    /// Accepts `response_format: {type: json_schema}`; without it a schema
    /// request is refused rather than weakened.
    pub json_schema: bool,
    /// Accepts `user`.
    pub user: bool,
    /// Accepts `metadata`.
    pub metadata: bool,
}

impl Default for OpenAiQuirks {
    fn default() -> Self {
        Self {
            max_tokens_field: MaxTokensField::MaxTokens,
            stream_options: true,
            seed: true,
            tool_choice_object: true,
            parallel_tool_calls: true,
            store: true,
            json_schema: true,
            user: true,
            metadata: true,
        }
    }
}
