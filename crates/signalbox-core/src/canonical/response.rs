//! The canonical response and stream events.

use super::Part;

/// Why generation stopped, normalised across providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Natural end or a stop sequence.
    Stop,
    /// The output token limit was hit.
    Length,
    /// The model called tools and waits for their results.
    ToolCalls,
    /// A safety or content filter ended the answer.
    ContentFilter,
    /// Anything else (recitation, guardrails, unknown values).
    Other,
}

impl StopReason {
    /// The OpenAI `finish_reason` for this reason.
    pub fn openai(self) -> &'static str {
        match self {
            Self::Stop | Self::Other => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
        }
    }

    /// Parses an OpenAI `finish_reason`.
    pub fn from_openai(reason: &str) -> Self {
        match reason {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" | "function_call" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            _ => Self::Other,
        }
    }
}

/// Tokens consumed, normalised for cost accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt (input) tokens, cached ones included.
    pub input_tokens: u64,
    /// Generated (output) tokens, reasoning included.
    pub output_tokens: u64,
}

impl From<Usage> for crate::Usage {
    fn from(u: Usage) -> Self {
        Self {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
        }
    }
}

/// One generated alternative (there is one unless the request set `n`).
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Position among the choices.
    pub index: u32,
    /// Text and tool-call parts, in order.
    pub content: Vec<Part>,
    /// Why this choice ended.
    pub stop_reason: StopReason,
}

/// The canonical (non-streaming) response.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// Provider's response id.
    pub id: String,
    /// Model that answered, as the provider names it.
    pub model: String,
    /// The generated choices.
    pub choices: Vec<Choice>,
    /// Token usage.
    pub usage: Usage,
    /// The provider's own stop reason, kept for the decision record.
    pub provider_stop_reason: Option<String>,
}

impl ChatResponse {
    /// The first choice's text parts, joined.
    pub fn text(&self) -> String {
        self.choices
            .first()
            .map(|c| super::text_of(&c.content))
            .unwrap_or_default()
    }
}

/// One event of a streamed response. Decoders emit `Start` first; tool call
/// arguments arrive as `ToolCallDelta`s after their `ToolCallStart`.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The response began.
    Start {
        /// Provider's response id.
        id: String,
        /// Model that answers.
        model: String,
    },
    /// More text for a choice.
    TextDelta {
        /// Choice index.
        choice: u32,
        /// The text.
        text: String,
    },
    /// A tool call began.
    ToolCallStart {
        /// Choice index.
        choice: u32,
        /// Position of the call among this choice's tool calls.
        index: u32,
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// More of a tool call's JSON arguments (possibly partial JSON).
    ToolCallDelta {
        /// Choice index.
        choice: u32,
        /// Position of the call among this choice's tool calls.
        index: u32,
        /// The next piece of the arguments text.
        arguments: String,
    },
    /// A choice ended.
    Stop {
        /// Choice index.
        choice: u32,
        /// Why.
        reason: StopReason,
    },
    /// Token usage for the whole response (sent once, near the end).
    Usage(Usage),
    /// The provider reported an error mid-stream.
    Error {
        /// Provider's error type, e.g. `overloaded_error`.
        kind: String,
        /// Provider's message.
        message: String,
    },
}
