//! Owns reading an Anthropic Messages body (`POST /v1/messages`) into the
//! canonical request, its structured output (`output_config.format`)
//! included.

use serde_json::{Map, Value};
use signalbox_core::RequestError;

use super::wire;
use crate::canonical::{
    ChatRequest, Dialect, Image, ImageSource, Message, Part, ReasoningEffort, ResponseFormat, Role,
    Tool, ToolCall, ToolChoice, ToolResult,
};
use crate::note::Notes;

/// Parses an Anthropic Messages request body. Errors name the field.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, RequestError> {
    from_wire(crate::parse_json(body)?)
}

/// The canonical request for a parsed Anthropic body.
pub(super) fn from_wire(wire: wire::Request) -> Result<ChatRequest, RequestError> {
    let wire::Request {
        model,
        max_tokens,
        messages,
        system,
        metadata,
        stop_sequences,
        stream,
        temperature,
        top_p,
        top_k,
        tools,
        tool_choice,
        extra,
    } = wire;
    if messages.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    let mut notes = Notes::default();
    let mut req = ChatRequest::new(model, Dialect::Anthropic);
    match system {
        None => {}
        Some(wire::System::Text(text)) => req.messages.push(Message::text(Role::System, text)),
        Some(wire::System::Blocks(blocks)) => {
            let content = blocks
                .into_iter()
                .enumerate()
                .map(|(i, b)| {
                    cache_note(&mut notes, &b.cache_control, || format!("system[{i}]"));
                    Part::Text(b.text)
                })
                .collect();
            req.messages.push(Message {
                role: Role::System,
                content,
                name: None,
            });
        }
    }
    for (i, m) in messages.into_iter().enumerate() {
        message(m, i, &mut req.messages, &mut notes);
    }
    req.tools = tools
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| tool(t, i, &mut notes))
        .collect::<Result<_, _>>()?;
    if let Some(c) = tool_choice {
        let (choice, parallel) = choice(c)?;
        req.tool_choice = Some(choice);
        req.parallel_tool_calls = parallel;
    }
    req.sampling.max_tokens = Some(max_tokens);
    req.sampling.temperature = temperature;
    req.sampling.top_p = top_p;
    req.sampling.top_k = top_k;
    req.sampling.stop = stop_sequences.unwrap_or_default();
    req.stream = stream.unwrap_or(false);
    req.stream_usage = true;
    req.user = metadata.and_then(|m| m.user_id);
    let mut extra = extra;
    req.response_format = output_format(&mut extra)?;
    req.extra = extra;
    req.reasoning = thinking_effort(&req.extra, &mut notes);
    req.notes = notes.0;
    Ok(req)
}

/// An enabled `thinking` budget as the smallest effort covering it, noted.
/// The client's own `thinking` stays in `extra`: Anthropic routes are sent
/// it as written; other formats get the effort (`crate::reasoning`).
fn thinking_effort(extra: &Map<String, Value>, notes: &mut Notes) -> Option<ReasoningEffort> {
    let thinking = extra.get("thinking")?;
    if thinking.get("type").and_then(Value::as_str) != Some("enabled") {
        return None;
    }
    let budget = thinking.get("budget_tokens").and_then(Value::as_u64)?;
    let effort = ReasoningEffort::for_budget(budget);
    notes.translated(
        "thinking",
        format!(
            "read as reasoning effort {} for routes reached through another format",
            effort.as_str()
        ),
    );
    Some(effort)
}

/// Anthropic's structured output, `output_config.format` (or the earlier
/// beta's top-level `output_format`): `{"type": "json_schema", "schema"}`,
/// read as the response format (enforced on every route, and checked
/// before it is returned) and taken out of the unknown fields, so no route
/// is sent it twice. What else `output_config` holds (`effort`) stays.
fn output_format(extra: &mut Map<String, Value>) -> Result<Option<ResponseFormat>, RequestError> {
    let (format, field) = match extra.get_mut("output_config") {
        Some(Value::Object(config)) if config.contains_key("format") => {
            let format = config.remove("format");
            if config.is_empty() {
                extra.remove("output_config");
            }
            (format, "output_config.format")
        }
        _ => (extra.remove("output_format"), "output_format"),
    };
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let kind = format.get("type").and_then(Value::as_str);
    if kind != Some("json_schema") {
        return Err(invalid(format!("{field}.type"), "must be \"json_schema\""));
    }
    let Some(schema) = format.get("schema").filter(|s| s.is_object()) else {
        return Err(invalid(
            format!("{field}.schema"),
            "is required and must be an object",
        ));
    };
    Ok(Some(ResponseFormat::JsonSchema {
        name: "output".to_owned(),
        description: None,
        schema: schema.clone(),
        // Left to each route's default: OpenAI's strict mode demands more
        // of a schema than Anthropic's; the gateway's check is the same.
        strict: None,
    }))
}

fn invalid(field: impl Into<String>, problem: &str) -> RequestError {
    RequestError::Invalid {
        field: field.into(),
        problem: problem.to_owned(),
    }
}

fn cache_note(notes: &mut Notes, cache: &Option<Value>, field: impl FnOnce() -> String) {
    if cache.is_some() {
        notes.dropped(
            format!("{}.cache_control", field()),
            "prompt-cache hints are not carried by the canonical model",
        );
    }
}

/// Tool results leave the user message they arrived in and become a `Tool`
/// message placed just before it (Anthropic requires them first anyway).
fn message(m: wire::Message, i: usize, out: &mut Vec<Message>, notes: &mut Notes) {
    let role = match m.role {
        wire::Role::User => Role::User,
        wire::Role::Assistant => Role::Assistant,
    };
    let blocks = match m.content {
        wire::Content::Text(text) => {
            out.push(Message::text(role, text));
            return;
        }
        wire::Content::Blocks(blocks) => blocks,
    };
    let mut results = Vec::new();
    let mut parts = Vec::new();
    for (j, b) in blocks.into_iter().enumerate() {
        let field = || format!("messages[{i}].content[{j}]");
        match block(b, notes, &field) {
            p @ Part::ToolResult(_) => results.push(p),
            p => parts.push(p),
        }
    }
    let only_results = parts.is_empty() && !results.is_empty();
    if !results.is_empty() {
        out.push(Message {
            role: Role::Tool,
            content: results,
            name: None,
        });
    }
    if !only_results {
        out.push(Message {
            role,
            content: parts,
            name: None,
        });
    }
}

fn block(b: wire::Block, notes: &mut Notes, field: &dyn Fn() -> String) -> Part {
    match b {
        wire::Block::Text {
            text,
            cache_control,
        } => {
            cache_note(notes, &cache_control, field);
            Part::Text(text)
        }
        wire::Block::Image {
            source,
            cache_control,
        } => {
            cache_note(notes, &cache_control, field);
            Part::Image(Image {
                source: match source {
                    wire::ImageSource::Base64 { media_type, data } => {
                        ImageSource::Base64 { media_type, data }
                    }
                    wire::ImageSource::Url { url } => ImageSource::Url(url),
                },
                detail: None,
            })
        }
        wire::Block::ToolUse { id, name, input } => Part::ToolCall(ToolCall {
            id,
            name,
            arguments: input.to_string(),
        }),
        wire::Block::ToolResult {
            tool_use_id,
            content,
            is_error,
            cache_control,
        } => {
            cache_note(notes, &cache_control, field);
            let content = match content {
                None => Vec::new(),
                Some(wire::ToolResultContent::Text(t)) => vec![Part::Text(t)],
                Some(wire::ToolResultContent::Blocks(blocks)) => {
                    blocks.into_iter().map(|b| block(b, notes, field)).collect()
                }
            };
            Part::ToolResult(ToolResult {
                call_id: tool_use_id,
                content,
                is_error,
            })
        }
    }
}

fn tool(t: wire::ToolDef, i: usize, notes: &mut Notes) -> Result<Tool, RequestError> {
    if let Some(kind) = t.kind.as_deref().filter(|k| *k != "custom") {
        return Err(invalid(
            format!("tools[{i}].type"),
            &format!("server tool `{kind}` cannot be routed to other providers"),
        ));
    }
    cache_note(notes, &t.cache_control, || format!("tools[{i}]"));
    Ok(Tool {
        name: t.name,
        description: t.description,
        parameters: t.input_schema,
        strict: None,
    })
}

fn choice(c: wire::ToolChoice) -> Result<(ToolChoice, Option<bool>), RequestError> {
    let choice = match (c.kind.as_str(), c.name) {
        ("auto", _) => ToolChoice::Auto,
        ("any", _) => ToolChoice::Required,
        ("none", _) => ToolChoice::None,
        ("tool", Some(name)) => ToolChoice::Tool(name),
        ("tool", None) => return Err(invalid("tool_choice.name", "is required for type tool")),
        _ => {
            return Err(invalid(
                "tool_choice.type",
                "must be one of: auto, any, tool, none",
            ));
        }
    };
    Ok((choice, c.disable_parallel_tool_use.map(|d| !d)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(extra: Value) -> Result<ChatRequest, RequestError> {
        let mut body = json!({"model": "m", "max_tokens": 10,
            "messages": [{"role": "user", "content": "where?"}]});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        parse_request(body.to_string().as_bytes())
    }

    #[test]
    fn output_config_format_is_the_response_format_and_its_other_fields_stay() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
        let format = json!({"type": "json_schema", "schema": schema});
        let req = parse(json!({"output_config": {"format": format, "effort": "low"}})).unwrap();
        assert!(
            matches!(&req.response_format, Some(ResponseFormat::JsonSchema { schema: s, .. }) if *s == schema)
        );
        assert_eq!(req.extra["output_config"], json!({"effort": "low"}));
        // Alone in output_config, or the earlier beta's output_format.
        let req = parse(json!({"output_config": {"format": format}})).unwrap();
        assert!(req.response_format.is_some() && req.extra.is_empty());
        let req = parse(json!({"output_format": format})).unwrap();
        assert!(req.response_format.is_some() && req.extra.is_empty());
        // Effort alone is no response format.
        let req = parse(json!({"output_config": {"effort": "low"}})).unwrap();
        assert!(req.response_format.is_none());
    }

    #[test]
    fn a_bad_output_format_is_refused_naming_the_field() {
        for (extra, field) in [
            (
                json!({"output_config": {"format": {"type": "xml"}}}),
                "output_config.format.type",
            ),
            (
                json!({"output_config": {"format": {"type": "json_schema"}}}),
                "output_config.format.schema",
            ),
            (
                json!({"output_format": {"type": "json_schema", "schema": 3}}),
                "output_format.schema",
            ),
        ] {
            let err = parse(extra).unwrap_err();
            assert!(
                matches!(&err, RequestError::Invalid { field: f, .. } if f == field),
                "{err:?}"
            );
        }
    }
}
