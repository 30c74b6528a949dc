//! Owns reading a Responses request body into the canonical request.
//! Errors name the field's path (`input[2].content[0].type`).

use serde_json::{Map, Value};
use signalbox_core::RequestError;

use crate::canonical::{
    ChatRequest, Dialect, Image, ImageSource, Message, Part, ReasoningEffort, ResponseFormat, Role,
    Tool, ToolCall, ToolChoice, ToolResult,
};
use crate::note::{NoteAction, TranslationNote};

/// Top-level fields read into the canonical request, or refused.
const READ: [&str; 14] = [
    "model",
    "reasoning",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "metadata",
    "user",
];

/// Fields that need state the gateway does not keep: refused.
const STATEFUL: [&str; 2] = ["previous_response_id", "conversation"];

/// A Responses body read once: the canonical request (for policy,
/// privacy, and routes reached through their chat APIs) and the client's
/// own body (passed through to routes that serve the Responses API).
#[derive(Debug)]
pub struct Ingress {
    /// The canonical request; its notes say what translating drops.
    pub canonical: ChatRequest,
    /// The body as the client wrote it.
    pub body: Map<String, Value>,
    /// The first part of the body only a passthrough carries (a built-in
    /// tool, its items, a file), named by its path; the canonical request
    /// was read without it (`untranslatable.rs`).
    pub untranslatable: Option<String>,
}

/// Parses a Responses body for translation alone. What the chat APIs
/// cannot say is dropped with a note (`store`, `include`, `reasoning.summary`,
/// …); what needs stored state or a built-in tool is refused.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::Syntax(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(invalid("(body)", "must be a JSON object"));
    };
    read(&map)
}

/// Parses a Responses body into the canonical request, keeping the body;
/// what only a passthrough carries is left out of the canonical request
/// and named in `untranslatable`, not refused.
pub fn parse_ingress(body: &[u8]) -> Result<Ingress, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::Syntax(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(invalid("(body)", "must be a JSON object"));
    };
    let untranslatable = super::untranslatable::first_untranslatable(&map);
    let canonical = match &untranslatable {
        None => read(&map)?,
        Some(_) => read(&super::untranslatable::translatable_view(&map))?,
    };
    Ok(Ingress {
        canonical,
        body: map,
        untranslatable,
    })
}

/// The canonical request a Responses body says.
fn read(map: &Map<String, Value>) -> Result<ChatRequest, RequestError> {
    for field in STATEFUL {
        if map.get(field).is_some_and(|v| !v.is_null()) {
            return Err(invalid(
                field,
                "is not supported: Signalbox does not store responses; send the whole conversation in `input`",
            ));
        }
    }
    let model = match map.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => return Err(invalid("model", "must be a non-empty string")),
        None => return Err(invalid("model", "is required")),
    };
    let mut req = ChatRequest::new(model, Dialect::OpenAi);
    if let Some(text) = opt_str(map, "instructions")? {
        req.messages.push(Message::text(Role::System, text));
    }
    read_input(map, &mut req.messages)?;
    req.tools = read_tools(map.get("tools"))?;
    req.tool_choice = map
        .get("tool_choice")
        .filter(|v| !v.is_null())
        .map(tool_choice)
        .transpose()?;
    req.parallel_tool_calls = opt_bool(map, "parallel_tool_calls")?;
    req.response_format = read_format(map.get("text"))?;
    req.sampling.max_tokens = opt_u32(map, "max_output_tokens")?;
    req.sampling.temperature = opt_f64(map, "temperature")?;
    req.sampling.top_p = opt_f64(map, "top_p")?;
    req.stream = opt_bool(map, "stream")?.unwrap_or(false);
    // Usage always ends a Responses stream (`response.completed`).
    req.stream_usage = req.stream;
    req.user = opt_str(map, "user")?.map(str::to_owned);
    req.metadata = match map.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(invalid("metadata", "must be an object")),
    };
    req.notes = dropped(map);
    req.reasoning = read_reasoning(map.get("reasoning"), &mut req.notes)?;
    Ok(req)
}

/// `reasoning`: its `effort` becomes the chat APIs' `reasoning_effort`
/// (each route's adapter then carries it where its target can, noted);
/// what else it asks for (`summary`) has no chat equivalent.
fn read_reasoning(
    value: Option<&Value>,
    notes: &mut Vec<TranslationNote>,
) -> Result<Option<ReasoningEffort>, RequestError> {
    let reasoning = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(r)) => r,
        Some(_) => return Err(invalid("reasoning", "must be an object")),
    };
    let note = |field: &str, action, reason: &str| TranslationNote {
        field: field.to_owned(),
        action,
        reason: reason.to_owned(),
    };
    for (k, v) in reasoning {
        if k != "effort" && !v.is_null() {
            notes.push(note(
                &format!("reasoning.{k}"),
                NoteAction::Dropped,
                "the chat APIs return no reasoning summary",
            ));
        }
    }
    let effort = match reasoning.get("effort") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) => ReasoningEffort::parse(e),
        Some(_) => return Err(invalid("reasoning.effort", "must be a string")),
    };
    match effort {
        Some(_) => notes.push(note(
            "reasoning.effort",
            NoteAction::Translated,
            "sent as the chat APIs' `reasoning_effort`; each route carries it where it can",
        )),
        None if reasoning.get("effort").is_some_and(|v| !v.is_null()) => notes.push(note(
            "reasoning.effort",
            NoteAction::Dropped,
            "only low, medium and high are carried through the chat APIs",
        )),
        None => {}
    }
    Ok(effort)
}

/// A note per top-level field the chat APIs cannot carry.
fn dropped(map: &Map<String, Value>) -> Vec<TranslationNote> {
    map.iter()
        .filter(|(k, v)| !READ.contains(&k.as_str()) && !v.is_null())
        .map(|(k, _)| TranslationNote {
            field: k.clone(),
            action: NoteAction::Dropped,
            reason: "not expressible through the chat APIs Signalbox reaches providers with".into(),
        })
        .collect()
}

/// `input`: a string (one user message) or a list of items.
fn read_input(map: &Map<String, Value>, out: &mut Vec<Message>) -> Result<(), RequestError> {
    match map.get("input") {
        Some(Value::String(text)) => out.push(Message::text(Role::User, text.clone())),
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                read_item(item, &format!("input[{i}]"), out)?;
            }
        }
        Some(Value::Array(_)) => return Err(invalid("input", "must not be empty")),
        Some(_) => return Err(invalid("input", "must be a string or a list of items")),
        None => return Err(invalid("input", "is required")),
    }
    Ok(())
}

/// One input item: a message, a function call, or a function call's output.
fn read_item(item: &Value, path: &str, out: &mut Vec<Message>) -> Result<(), RequestError> {
    let Value::Object(item) = item else {
        return Err(invalid(path, "must be an object"));
    };
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        None | Some("message") => out.push(read_message(item, path)?),
        Some("function_call") => {
            let call = ToolCall {
                id: req_str(item, "call_id", path)?.to_owned(),
                name: req_str(item, "name", path)?.to_owned(),
                arguments: req_str(item, "arguments", path)?.to_owned(),
            };
            // Consecutive calls (and the text before them) are one turn.
            match out.last_mut() {
                Some(last) if last.role == Role::Assistant => {
                    last.content.push(Part::ToolCall(call))
                }
                _ => out.push(Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolCall(call)],
                    name: None,
                }),
            }
        }
        Some("function_call_output") => {
            let output = match item.get("output") {
                Some(Value::String(s)) => vec![Part::Text(s.clone())],
                Some(Value::Array(parts)) => read_parts(parts, &format!("{path}.output"))?,
                _ => {
                    return Err(invalid(
                        &format!("{path}.output"),
                        "must be a string or a list of content parts",
                    ));
                }
            };
            out.push(Message {
                role: Role::Tool,
                content: vec![Part::ToolResult(ToolResult {
                    call_id: req_str(item, "call_id", path)?.to_owned(),
                    content: output,
                    is_error: false,
                })],
                name: None,
            });
        }
        // A reasoning item from an earlier answer: the chat APIs take none.
        Some("reasoning") => {}
        Some(other) => {
            return Err(invalid(
                &format!("{path}.type"),
                &format!(
                    "item type `{other}` is not supported (only messages, function calls and their outputs)"
                ),
            ));
        }
    }
    Ok(())
}

fn read_message(item: &Map<String, Value>, path: &str) -> Result<Message, RequestError> {
    let role = match req_str(item, "role", path)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" | "developer" => Role::System,
        other => {
            return Err(invalid(
                &format!("{path}.role"),
                &format!("`{other}` is not one of user, assistant, system, developer"),
            ));
        }
    };
    let content = match item.get("content") {
        Some(Value::String(s)) => vec![Part::Text(s.clone())],
        Some(Value::Array(parts)) => read_parts(parts, &format!("{path}.content"))?,
        _ => {
            return Err(invalid(
                &format!("{path}.content"),
                "must be a string or a list of content parts",
            ));
        }
    };
    Ok(Message {
        role,
        content,
        name: None,
    })
}

fn read_parts(parts: &[Value], path: &str) -> Result<Vec<Part>, RequestError> {
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| read_part(part, &format!("{path}[{i}]")))
        .collect()
}

fn read_part(part: &Value, path: &str) -> Result<Part, RequestError> {
    let Value::Object(part) = part else {
        return Err(invalid(path, "must be an object"));
    };
    match req_str(part, "type", path)? {
        "input_text" | "output_text" => Ok(Part::Text(req_str(part, "text", path)?.to_owned())),
        "refusal" => Ok(Part::Text(req_str(part, "refusal", path)?.to_owned())),
        "input_image" => {
            let Some(url) = part.get("image_url").and_then(Value::as_str) else {
                return Err(invalid(
                    &format!("{path}.image_url"),
                    "is required (images by `file_id` need stored files, which Signalbox does not keep)",
                ));
            };
            Ok(Part::Image(Image {
                source: image_source(url),
                detail: part
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }))
        }
        other => Err(invalid(
            &format!("{path}.type"),
            &format!(
                "content type `{other}` is not supported (input_text, output_text, input_image)"
            ),
        )),
    }
}

/// `data:<type>;base64,<data>` URLs become inline images; others stay URLs.
fn image_source(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((media_type, data)) = rest.split_once(";base64,")
    {
        return ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        };
    }
    ImageSource::Url(url.to_owned())
}

/// Function tools; a built-in tool (web search, file search, …) is refused.
fn read_tools(tools: Option<&Value>) -> Result<Vec<Tool>, RequestError> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(t)) => t,
        Some(_) => return Err(invalid("tools", "must be a list")),
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let path = format!("tools[{i}]");
        let Value::Object(tool) = tool else {
            return Err(invalid(&path, "must be an object"));
        };
        let kind = req_str(tool, "type", &path)?;
        if kind != "function" {
            return Err(invalid(
                &format!("{path}.type"),
                &format!(
                    "built-in tool `{kind}` is not supported: only `function` tools reach providers through their chat APIs"
                ),
            ));
        }
        out.push(Tool {
            name: req_str(tool, "name", &path)?.to_owned(),
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            parameters: tool
                .get("parameters")
                .filter(|p| !p.is_null())
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            strict: tool.get("strict").and_then(Value::as_bool),
        });
    }
    Ok(out)
}

fn tool_choice(v: &Value) -> Result<ToolChoice, RequestError> {
    match v {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(invalid(
                "tool_choice",
                "must be \"auto\", \"none\", \"required\" or a function object",
            )),
        },
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => Ok(
            ToolChoice::Tool(req_str(o, "name", "tool_choice")?.to_owned()),
        ),
        _ => Err(invalid(
            "tool_choice",
            "only \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"name\"} are supported",
        )),
    }
}

/// `text.format`: plain text, a JSON object, or a JSON schema.
fn read_format(text: Option<&Value>) -> Result<Option<ResponseFormat>, RequestError> {
    let Some(format) = text.and_then(|t| t.get("format")).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let Value::Object(format) = format else {
        return Err(invalid("text.format", "must be an object"));
    };
    match req_str(format, "type", "text.format")? {
        "text" => Ok(Some(ResponseFormat::Text)),
        "json_object" => Ok(Some(ResponseFormat::JsonObject)),
        "json_schema" => Ok(Some(ResponseFormat::JsonSchema {
            name: req_str(format, "name", "text.format")?.to_owned(),
            description: format
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            schema: format
                .get("schema")
                .cloned()
                .ok_or_else(|| invalid("text.format.schema", "is required"))?,
            strict: format.get("strict").and_then(Value::as_bool),
        })),
        other => Err(invalid(
            "text.format.type",
            &format!("`{other}` is not one of text, json_object, json_schema"),
        )),
    }
}

fn req_str<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, RequestError> {
    o.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("{path}.{key}"), "is required and must be a string"))
}

fn opt_str<'a>(o: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, RequestError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(key, "must be a string")),
    }
}

fn opt_bool(o: &Map<String, Value>, key: &str) -> Result<Option<bool>, RequestError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(key, "must be a boolean")),
    }
}

fn opt_f64(o: &Map<String, Value>, key: &str) -> Result<Option<f64>, RequestError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(key, "must be a number")),
    }
}

fn opt_u32(o: &Map<String, Value>, key: &str) -> Result<Option<u32>, RequestError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(key, "must be a non-negative integer")),
    }
}

fn invalid(field: &str, problem: &str) -> RequestError {
    RequestError::Invalid {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}
