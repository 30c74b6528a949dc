//! Owns the canonical chat model: the one request, response and stream-event
//! shape every ingress format parses into and every provider adapter renders
//! from. Nothing here knows a wire format.

mod note;
mod reasoning;
mod response;

pub use note::{NoteAction, TranslationNote};
pub use reasoning::ReasoningEffort;
pub use response::{ChatResponse, Choice, StopReason, StreamEvent, Usage};

use serde_json::{Map, Value};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions (OpenAI `system`/`developer`, Anthropic `system`,
    /// Gemini `systemInstruction`, Bedrock `system`).
    System,
    /// The end user.
    User,
    /// The model, including its tool calls.
    Assistant,
    /// Results of tool calls, fed back to the model.
    Tool,
}

/// One piece of a message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Plain text.
    Text(String),
    /// An image, by URL or inline.
    Image(Image),
    /// A tool call the assistant made (assistant messages only).
    ToolCall(ToolCall),
    /// The result of a tool call (tool messages only).
    ToolResult(ToolResult),
}

/// An image attached to a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Where the image's bytes are.
    pub source: ImageSource,
    /// OpenAI's `detail` hint (`low`, `high`, `auto`), when given.
    pub detail: Option<String>,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A URL the provider fetches itself.
    Url(String),
    /// Inline base64 data (OpenAI `data:` URLs parse into this).
    Base64 {
        /// MIME type, e.g. `image/png`.
        media_type: String,
        /// The base64 payload, without a `data:` prefix.
        data: String,
    },
}

/// A call of a declared tool, as the model produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// Id linking the call to its result.
    pub id: String,
    /// Name of the tool.
    pub name: String,
    /// Arguments as a JSON text (OpenAI keeps them as a string; providers
    /// with object arguments are serialised compactly).
    pub arguments: String,
}

/// The outcome of a tool call, sent back to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// Id of the call this answers.
    pub call_id: String,
    /// Text and image parts of the result.
    pub content: Vec<Part>,
    /// Whether the tool failed (Anthropic `is_error`, Bedrock `status`).
    pub is_error: bool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its content, in order.
    pub content: Vec<Part>,
    /// OpenAI's participant `name`, when given.
    pub name: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Function name.
    pub name: String,
    /// What the tool does, for the model.
    pub description: Option<String>,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
    /// OpenAI's `strict` flag, when given.
    pub strict: Option<bool>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call (Anthropic/Bedrock `any`).
    Required,
    /// This named tool.
    Tool(String),
}

/// Structured output requested from the model.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Free text (the default).
    Text,
    /// Any single JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name.
        name: String,
        /// Description of the schema, when given.
        description: Option<String>,
        /// The JSON Schema.
        schema: Value,
        /// OpenAI's `strict` flag, when given.
        strict: Option<bool>,
    },
}

/// Sampling and length parameters. `None` means "provider default".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Top-k sampling (Anthropic, Gemini).
    pub top_k: Option<u32>,
    /// Most output tokens to generate.
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// Seed for best-effort determinism.
    pub seed: Option<i64>,
    /// Number of choices to generate.
    pub n: Option<u32>,
    /// Presence penalty.
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    pub frequency_penalty: Option<f64>,
}

/// The wire format a request arrived in (or a response is rendered to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI chat completions (also Azure and the OpenAI-compatible family).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// The canonical chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Model the client asked for (an alias, before routing).
    pub model: String,
    /// The conversation, system messages included, in order.
    pub messages: Vec<Message>,
    /// Tools offered to the model.
    pub tools: Vec<Tool>,
    /// Tool choice, when given.
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may make several tool calls at once, when given.
    pub parallel_tool_calls: Option<bool>,
    /// Structured output, when asked for.
    pub response_format: Option<ResponseFormat>,
    /// Sampling and length parameters.
    pub sampling: Sampling,
    /// Reasoning effort, when asked for (Responses `reasoning.effort`,
    /// chat `reasoning_effort`); each adapter carries it where its target
    /// can express it and notes what it did.
    pub reasoning: Option<ReasoningEffort>,
    /// Whether the client wants a stream.
    pub stream: bool,
    /// Whether the client wants usage at the end of its stream (OpenAI
    /// `stream_options.include_usage`; Anthropic streams always carry it).
    /// Upstreams are always asked for usage, for cost accounting.
    pub stream_usage: bool,
    /// End-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// OpenAI `metadata` key/values, when given.
    pub metadata: Option<Map<String, Value>>,
    /// Top-level fields the canonical model does not interpret, with the
    /// dialect they came from. Adapters of that dialect pass them through;
    /// every other adapter drops them with a note.
    pub extra: Map<String, Value>,
    /// Dialect of `extra` (and of the ingress body).
    pub dialect: Dialect,
    /// What ingress parsing dropped (hints the canonical model does not
    /// carry, such as Anthropic `cache_control`), for the decision record.
    pub notes: Vec<TranslationNote>,
}

impl ChatRequest {
    /// An empty request for `model` in `dialect`; ingress parsers fill it in.
    pub fn new(model: impl Into<String>, dialect: Dialect) -> Self {
        Self {
            model: model.into(),
            messages: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            response_format: None,
            sampling: Sampling::default(),
            reasoning: None,
            stream: false,
            stream_usage: false,
            user: None,
            metadata: None,
            extra: Map::new(),
            dialect,
            notes: Vec::new(),
        }
    }

    /// The system prompt: the text of every system message, joined by blank
    /// lines, for providers that take it out of the conversation.
    pub fn system_text(&self) -> Option<String> {
        let texts: Vec<&str> = self
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .flat_map(|m| m.content.iter())
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n\n"))
    }

    /// Whether any message carries a tool call or a tool result.
    pub fn has_tool_history(&self) -> bool {
        self.messages
            .iter()
            .flat_map(|m| &m.content)
            .any(|p| matches!(p, Part::ToolCall(_) | Part::ToolResult(_)))
    }
}

impl Message {
    /// A message holding one text part.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: vec![Part::Text(text.into())],
            name: None,
        }
    }
}

/// The text parts of `parts`, concatenated.
pub fn text_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}
