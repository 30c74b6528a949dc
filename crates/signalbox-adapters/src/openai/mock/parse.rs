//! Owns reading an OpenAI chat request into the format-neutral prompt.

use std::borrow::Cow;

use serde::Deserialize;

use super::OpenAiRequest;
use crate::mock::Parsed;
use crate::mock::{Prompt, count_words};

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    messages: Vec<Message<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default, borrow)]
    tools: Option<Vec<Tool<'a>>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(default, borrow)]
    content: Option<Content<'a>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Parts(#[serde(borrow)] Vec<Part<'a>>),
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Tool<'a> {
    #[serde(default, borrow)]
    function: Option<ToolFunction<'a>>,
}

#[derive(Deserialize)]
struct ToolFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

impl<'a> Message<'a> {
    /// The message's text pieces: the string content, or the "text" parts of array content.
    fn texts(&self) -> impl Iterator<Item = &str> {
        let (whole, parts) = match &self.content {
            Some(Content::Text(text)) => (Some(text.as_ref()), &[][..]),
            Some(Content::Parts(parts)) => (None, parts.as_slice()),
            None => (None, &[][..]),
        };
        let parts = parts
            .iter()
            .filter(|part| part.kind == "text")
            .filter_map(|part| part.text.as_deref());
        whole.into_iter().chain(parts)
    }
}

/// Parses a chat request; `Err` carries the message of the 400 answer.
pub(super) fn parse(body: &[u8]) -> Result<Parsed<OpenAiRequest>, String> {
    let request: ChatRequest<'_> = serde_json::from_slice(body)
        .map_err(|e| format!("invalid chat completion request: {e}"))?;
    let mut prompt = Prompt {
        messages: request.messages.len() as u64,
        first_tool: request
            .tools
            .as_ref()
            .and_then(|tools| tools.first())
            .map(|tool| match &tool.function {
                Some(function) => function.name.clone().into_owned(),
                None => String::new(),
            }),
        ..Prompt::default()
    };
    for message in &request.messages {
        prompt.words += message.texts().map(count_words).sum::<u64>();
    }
    if let Some(last_user) = request.messages.iter().rev().find(|m| m.role == "user") {
        prompt.last_user_text = last_user.texts().collect::<Vec<_>>().join(" ");
    }
    prompt.prefill = request
        .messages
        .last()
        .filter(|m| m.role == "assistant")
        .map(|m| m.texts().collect::<String>())
        .filter(|t| !t.is_empty());
    Ok(Parsed {
        request: OpenAiRequest {
            model: request.model.into_owned(),
            include_usage: request
                .stream_options
                .and_then(|options| options.include_usage)
                .unwrap_or(false),
            thinking: false,
            responses: false,
        },
        prompt,
        stream: request.stream.unwrap_or(false),
    })
}
