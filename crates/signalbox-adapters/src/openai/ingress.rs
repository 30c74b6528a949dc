//! Owns reading an OpenAI chat-completions body into the canonical request.

use serde_json::{Map, Value};
use signalbox_core::RequestError;

use super::wire;
use crate::canonical::{
    ChatRequest, Dialect, Image, ImageSource, Message, Part, ReasoningEffort, ResponseFormat, Role,
    Tool, ToolCall, ToolChoice, ToolResult,
};

/// Parses an OpenAI chat-completions request body. Errors name the field.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, RequestError> {
    from_wire(crate::parse_json(body)?)
}

/// Reads a validated OpenAI body held as a JSON map (the gateway's
/// request view) into the canonical request for `model`, without
/// serialising it first. Errors name the field.
pub fn read_request(body: &Map<String, Value>, model: &str) -> Result<ChatRequest, RequestError> {
    let wire: wire::Request = serde_path_to_error::deserialize(body).map_err(|e| {
        let field = e.path().to_string();
        RequestError::Invalid {
            field: if field == "." { "(body)".into() } else { field },
            problem: e.into_inner().to_string(),
        }
    })?;
    let mut req = from_wire(wire)?;
    model.clone_into(&mut req.model);
    Ok(req)
}

fn from_wire(wire: wire::Request) -> Result<ChatRequest, RequestError> {
    let wire::Request {
        model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        temperature,
        top_p,
        max_tokens,
        max_completion_tokens,
        stop,
        seed,
        n,
        presence_penalty,
        frequency_penalty,
        stream,
        stream_options,
        user,
        metadata,
        extra,
    } = wire;
    if messages.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    let mut req = ChatRequest::new(model, Dialect::OpenAi);
    req.messages = messages.into_iter().map(message).collect();
    req.tools = tools.unwrap_or_default().into_iter().map(tool).collect();
    req.tool_choice = tool_choice.map(choice).transpose()?;
    req.parallel_tool_calls = parallel_tool_calls;
    req.response_format = response_format.map(format);
    req.sampling.temperature = temperature;
    req.sampling.top_p = top_p;
    req.sampling.max_tokens = max_completion_tokens.or(max_tokens);
    req.sampling.stop = match stop {
        None => Vec::new(),
        Some(wire::Stop::One(s)) => vec![s],
        Some(wire::Stop::Many(v)) => v,
    };
    req.sampling.seed = seed;
    req.sampling.n = n;
    req.sampling.presence_penalty = presence_penalty;
    req.sampling.frequency_penalty = frequency_penalty;
    req.stream = stream.unwrap_or(false);
    req.stream_usage = stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    req.user = user;
    req.metadata = metadata;
    req.extra = extra;
    req.reasoning = take_reasoning_effort(&mut req.extra);
    Ok(req)
}

/// `reasoning_effort` read into the canonical field when it names an effort
/// every target can be given (`low`, `medium`, `high`); any other value
/// stays in `extra`, for OpenAI-format routes only.
fn take_reasoning_effort(extra: &mut serde_json::Map<String, Value>) -> Option<ReasoningEffort> {
    let effort = extra
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .and_then(ReasoningEffort::parse)?;
    extra.remove("reasoning_effort");
    Some(effort)
}

fn invalid(field: &str, problem: &str) -> RequestError {
    RequestError::Invalid {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}

fn message(m: wire::Message) -> Message {
    match m {
        wire::Message::System { content, name } | wire::Message::Developer { content, name } => {
            Message {
                role: Role::System,
                content: parts(content),
                name,
            }
        }
        wire::Message::User { content, name } => Message {
            role: Role::User,
            content: parts(content),
            name,
        },
        wire::Message::Assistant {
            content,
            name,
            tool_calls,
            refusal,
        } => {
            let mut content = content.map(parts).unwrap_or_default();
            content.extend(refusal.map(Part::Text));
            content.extend(tool_calls.unwrap_or_default().into_iter().map(|c| {
                Part::ToolCall(ToolCall {
                    id: c.id,
                    name: c.function.name,
                    arguments: c.function.arguments,
                })
            }));
            Message {
                role: Role::Assistant,
                content,
                name,
            }
        }
        wire::Message::Tool {
            content,
            tool_call_id,
        } => Message {
            role: Role::Tool,
            content: vec![Part::ToolResult(ToolResult {
                call_id: tool_call_id,
                content: parts(content),
                is_error: false,
            })],
            name: None,
        },
    }
}

fn parts(content: wire::Content) -> Vec<Part> {
    match content {
        wire::Content::Text(text) => vec![Part::Text(text)],
        wire::Content::Parts(parts) => parts
            .into_iter()
            .map(|p| match p {
                wire::ContentPart::Text { text } => Part::Text(text),
                wire::ContentPart::Refusal { refusal } => Part::Text(refusal),
                wire::ContentPart::ImageUrl { image_url } => Part::Image(Image {
                    source: image_source(image_url.url),
                    detail: image_url.detail,
                }),
            })
            .collect(),
    }
}

/// `data:<type>;base64,<data>` URLs become inline images; others stay URLs.
fn image_source(url: String) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media_type, data)) = rest.split_once(";base64,")
    {
        return ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        };
    }
    ImageSource::Url(url)
}

fn tool(t: wire::ToolDef) -> Tool {
    let f = t.function;
    Tool {
        name: f.name,
        description: f.description,
        parameters: f
            .parameters
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        strict: f.strict,
    }
}

fn choice(c: wire::ToolChoice) -> Result<ToolChoice, RequestError> {
    match c {
        wire::ToolChoice::Mode(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid(
                "tool_choice",
                "must be \"auto\", \"none\", \"required\" or a function object",
            )),
        },
        wire::ToolChoice::Named { function } => Ok(ToolChoice::Tool(function.name)),
    }
}

fn format(f: wire::ResponseFormat) -> ResponseFormat {
    match f {
        wire::ResponseFormat::Text => ResponseFormat::Text,
        wire::ResponseFormat::JsonObject => ResponseFormat::JsonObject,
        wire::ResponseFormat::JsonSchema { json_schema } => ResponseFormat::JsonSchema {
            name: json_schema.name,
            description: json_schema.description,
            schema: json_schema
                .schema
                .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            strict: json_schema.strict,
        },
    }
}
