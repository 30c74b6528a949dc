//! Owns rendering the canonical request as an Anthropic Messages body.

use serde_json::{Map, Value, json};

use crate::canonical::{
    ChatRequest, Dialect, Image, ImageSource, Message, Part, ResponseFormat, Role, ToolChoice,
};
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{Retention, RouteSettings};

const TARGET: &str = "anthropic";

/// Used when neither the client nor the route sets an output limit, since
/// Anthropic requires one.
pub(crate) const FALLBACK_MAX_TOKENS: u32 = 4096;

/// Sentence appended to the system prompt for OpenAI's JSON mode.
const JSON_INSTRUCTION: &str = "Respond with a single valid JSON object and nothing else.";

/// The Anthropic request body for `req` on `route`.
pub(crate) fn body(
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(route.upstream_model));
    let max_tokens = route
        .max_tokens(req.sampling.max_tokens)
        .unwrap_or_else(|| {
            notes.translated(
                "sampling.max_tokens",
                format!("Anthropic requires max_tokens; sent {FALLBACK_MAX_TOKENS}"),
            );
            FALLBACK_MAX_TOKENS
        });
    out.insert("max_tokens".into(), json!(max_tokens));
    if let Some(system) = system_field(req, notes)? {
        out.insert("system".into(), system);
    }
    out.insert("messages".into(), Value::Array(messages(req, notes)?));
    tools(req, &mut out, notes);
    forced(req, &mut out, notes)?;
    sampling(req, &mut out, notes)?;
    if req.stream {
        out.insert("stream".into(), json!(true));
    }
    if let Some(user) = &req.user {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if req.metadata.is_some() {
        notes.dropped("metadata", "Anthropic accepts only metadata.user_id");
    }
    thinking(req, route, max_tokens, &mut out, notes);
    extra(req, &mut out, notes);
    route_notes(route, notes);
    Ok(out)
}

/// Extended thinking for a reasoning effort (`crate::reasoning`), with
/// the sampling settings it refuses removed.
fn thinking(
    req: &ChatRequest,
    route: &RouteSettings,
    max_tokens: u32,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) {
    // An Anthropic client's own `thinking` is sent as written (`extra`).
    if req.dialect == Dialect::Anthropic && req.extra.contains_key("thinking") {
        return;
    }
    let forced = out
        .get("tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "any" || t == "tool");
    let Some((thinking, max_tokens)) =
        crate::reasoning::anthropic_thinking("Anthropic", req, route, max_tokens, forced, notes)
    else {
        return;
    };
    out.insert("thinking".into(), thinking);
    out.insert("max_tokens".into(), json!(max_tokens));
    crate::reasoning::strip_sampling(out, ["temperature", "top_k", "top_p"], notes);
}

/// The `system` field: the system text blocks plus, for JSON mode, an
/// instruction (Anthropic has no JSON mode); one block is sent as a string.
fn system_field(req: &ChatRequest, notes: &mut Notes) -> Result<Option<Value>, TranslateError> {
    let mut system = system(req, notes);
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            notes.translated(
                "response_format.json_object",
                "Anthropic has no JSON mode: instruction added to the system prompt",
            );
            system.push(json!({"type": "text", "text": JSON_INSTRUCTION}));
        }
        // Enforced by a forced tool (`forced`).
        Some(ResponseFormat::JsonSchema { .. }) => {}
    }
    Ok(match system.as_slice() {
        [] => None,
        [one] => Some(one["text"].clone()),
        _ => Some(Value::Array(system)),
    })
}

/// Unknown fields: kept when the client spoke Anthropic (and the field was
/// not already rendered), dropped with a note otherwise.
fn extra(req: &ChatRequest, out: &mut Map<String, Value>, notes: &mut Notes) {
    for (k, v) in &req.extra {
        if req.dialect == Dialect::Anthropic && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        } else {
            notes.dropped(
                format!("extra.{k}"),
                "not understood by the Anthropic format",
            );
        }
    }
}

/// Route settings Anthropic has no request field for.
fn route_notes(route: &RouteSettings, notes: &mut Notes) {
    if route.retention == Retention::None {
        notes.dropped(
            "route.retention",
            "Anthropic has no per-request retention flag; relies on the account's terms",
        );
    }
    if route.content_filter.is_some() {
        notes.dropped(
            "route.content_filter",
            "Anthropic has no content filter setting",
        );
    }
}

/// System messages, wherever they stand, become system text blocks.
fn system(req: &ChatRequest, notes: &mut Notes) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut seen_other = false;
    for (i, m) in req.messages.iter().enumerate() {
        if m.role != Role::System {
            seen_other = true;
            continue;
        }
        if seen_other {
            notes.translated(
                format!("messages[{i}]"),
                "system message inside the conversation moved to the system prompt",
            );
        }
        for p in &m.content {
            match p {
                Part::Text(t) => blocks.push(json!({"type": "text", "text": t})),
                _ => notes.dropped(
                    format!("messages[{i}].content"),
                    "Anthropic system prompts are text only",
                ),
            }
        }
    }
    blocks
}

/// Consecutive tool messages and the user message after them merge into one
/// user message (tool results first), as Anthropic expects.
fn messages(req: &ChatRequest, notes: &mut Notes) -> Result<Vec<Value>, TranslateError> {
    let mut out: Vec<Value> = Vec::new();
    let mut merging = false;
    for (i, m) in req.messages.iter().enumerate() {
        if m.role == Role::System {
            continue;
        }
        if m.name.is_some() {
            notes.dropped(
                format!("messages[{i}].name"),
                "Anthropic messages have no name",
            );
        }
        let role = if m.role == Role::Assistant {
            "assistant"
        } else {
            "user"
        };
        let blocks = blocks(m, i, notes)?;
        let last = out.last_mut().filter(|_| merging && role == "user");
        if let Some(Value::Array(prev)) = last.and_then(|l| l.get_mut("content")) {
            prev.extend(blocks);
        } else if let [Value::Object(b)] = blocks.as_slice()
            && m.role != Role::Tool
            && b.get("type") == Some(&json!("text"))
        {
            out.push(json!({"role": role, "content": b["text"]}));
        } else {
            out.push(json!({"role": role, "content": blocks}));
        }
        merging = m.role == Role::Tool;
    }
    Ok(out)
}

fn blocks(m: &Message, i: usize, notes: &mut Notes) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::with_capacity(m.content.len());
    for p in &m.content {
        match p {
            // Anthropic rejects empty text blocks (OpenAI sends "" beside tool calls).
            Part::Text(t) if t.is_empty() && m.content.len() > 1 => {}
            Part::Text(t) => out.push(json!({"type": "text", "text": t})),
            Part::Image(img) => out.push(image(img, i, notes)),
            Part::ToolCall(c) => {
                let input = arguments(&c.arguments, i)?;
                out.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
            }
            Part::ToolResult(r) => {
                let content: Vec<Value> = r
                    .content
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text(t) => Some(json!({"type": "text", "text": t})),
                        Part::Image(img) => Some(image(img, i, notes)),
                        _ => None,
                    })
                    .collect();
                let mut block = json!({"type": "tool_result", "tool_use_id": r.call_id});
                block["content"] = match content.as_slice() {
                    [Value::Object(b)] if b.get("type") == Some(&json!("text")) => {
                        b["text"].clone()
                    }
                    _ => Value::Array(content),
                };
                if r.is_error {
                    block["is_error"] = json!(true);
                }
                out.push(block);
            }
        }
    }
    Ok(out)
}

/// Tool arguments as a JSON object; an empty string means no arguments.
pub(crate) fn arguments(args: &str, i: usize) -> Result<Value, TranslateError> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(TranslateError::invalid(
            format!("messages[{i}].tool_call.arguments"),
            "must be a JSON object",
        )),
        Err(e) => Err(TranslateError::invalid(
            format!("messages[{i}].tool_call.arguments"),
            format!("not valid JSON: {e}"),
        )),
    }
}

fn image(img: &Image, i: usize, notes: &mut Notes) -> Value {
    if img.detail.is_some() {
        notes.dropped(
            format!("messages[{i}].image.detail"),
            "Anthropic has no detail hint",
        );
    }
    match &img.source {
        ImageSource::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
        ImageSource::Base64 { media_type, data } => json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }),
    }
}

fn tools(req: &ChatRequest, out: &mut Map<String, Value>, notes: &mut Notes) {
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                if t.strict.is_some() {
                    notes.dropped(
                        format!("tools.{}.strict", t.name),
                        "Anthropic has no strict flag",
                    );
                }
                let mut v = json!({"name": t.name, "input_schema": t.parameters});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ToolChoice::Tool(name)) => Some(json!({"type": "tool", "name": name})),
    };
    if let Some(parallel) = req.parallel_tool_calls {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if c["type"] != "none" {
            c["disable_parallel_tool_use"] = json!(!parallel);
        }
    }
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
}

/// A JSON schema enforced by forcing one tool that takes it as its input
/// (`crate::structured`).
fn forced(
    req: &ChatRequest,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) -> Result<(), TranslateError> {
    let Some(tool) = crate::structured::forced_tool(req, TARGET)? else {
        return Ok(());
    };
    let name = crate::structured::TOOL;
    out.insert(
        "tools".into(),
        json!([{"name": name, "description": tool.description, "input_schema": tool.schema}]),
    );
    out.insert("tool_choice".into(), json!({"type": "tool", "name": name}));
    notes.translated(
        "response_format.json_schema",
        "enforced by a forced tool call whose input is the answer",
    );
    Ok(())
}

fn sampling(
    req: &ChatRequest,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) -> Result<(), TranslateError> {
    let s = &req.sampling;
    if let Some(t) = s.temperature {
        if t > 1.0 {
            notes.translated("sampling.temperature", "Anthropic's range is 0–1: sent 1.0");
        }
        out.insert("temperature".into(), json!(t.min(1.0)));
    }
    if let Some(p) = s.top_p {
        out.insert("top_p".into(), json!(p));
    }
    if let Some(k) = s.top_k {
        out.insert("top_k".into(), json!(k));
    }
    if !s.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(s.stop));
    }
    if s.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::unsupported(
            TARGET,
            // The client's name for it, as every refusal names its field.
            "n",
            "Anthropic generates one choice per request",
        ));
    }
    if s.seed.is_some() {
        notes.dropped("sampling.seed", "Anthropic has no seed");
    }
    if s.presence_penalty.is_some() {
        notes.dropped(
            "sampling.presence_penalty",
            "Anthropic has no presence penalty",
        );
    }
    if s.frequency_penalty.is_some() {
        notes.dropped(
            "sampling.frequency_penalty",
            "Anthropic has no frequency penalty",
        );
    }
    Ok(())
}
