//! Owns rendering the canonical request as a Cohere v2 Chat body.

use serde_json::{Map, Value, json};

use crate::canonical::{ChatRequest, Message, Part, ResponseFormat, Role, ToolChoice};
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{ContentFilter, RouteSettings};

const TARGET: &str = "cohere";

/// The Cohere request body for `req` on `route`.
pub(crate) fn body(
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(route.upstream_model));
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        message(m, i, &mut messages, notes)?;
    }
    out.insert("messages".into(), Value::Array(messages));
    tools(req, &mut out, notes);
    sampling(req, route, &mut out)?;
    if let Some(f) = response_format(req.response_format.as_ref(), notes) {
        out.insert("response_format".into(), f);
    }
    if let Some(level) = route.content_filter {
        out.insert("safety_mode".into(), json!(safety_mode(level)));
    }
    if req.stream {
        out.insert("stream".into(), json!(true));
    }
    notes.unsupported_extras("Cohere", req, route);
    crate::reasoning::unsupported("Cohere", req, notes);
    Ok(out)
}

/// Cohere's `safety_mode` for a declared content-filter level.
fn safety_mode(level: ContentFilter) -> &'static str {
    match level {
        ContentFilter::Off => "NONE",
        ContentFilter::Low | ContentFilter::Medium => "CONTEXTUAL",
        ContentFilter::High => "STRICT",
    }
}

/// One canonical message as Cohere messages: tool results become `tool`
/// messages with document content; an assistant's tool calls go in
/// `tool_calls`.
fn message(
    m: &Message,
    i: usize,
    out: &mut Vec<Value>,
    notes: &mut Notes,
) -> Result<(), TranslateError> {
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for part in &m.content {
        match part {
            Part::Text(t) if !t.is_empty() => texts.push(json!({"type": "text", "text": t})),
            Part::Text(_) => {}
            Part::ToolResult(r) => {
                if r.is_error {
                    notes.translated(
                        format!("messages[{i}].tool_result.is_error"),
                        "Cohere tool results have no error flag; the content says it",
                    );
                }
                let data = crate::turns::text_of(&r.content);
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": r.call_id,
                    "content": [{"type": "document", "document": {"data": data}}],
                }));
            }
            Part::ToolCall(c) if m.role == Role::Assistant => calls.push(json!({
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            })),
            Part::ToolCall(_) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].content"),
                    "only assistant messages may carry tool calls",
                ));
            }
            Part::Image(_) => {
                return Err(TranslateError::unsupported(
                    TARGET,
                    format!("messages[{i}].image"),
                    "this adapter sends text and tools to Cohere, not images",
                ));
            }
        }
    }
    if m.name.is_some() {
        notes.dropped(
            format!("messages[{i}].name"),
            "Cohere messages have no name",
        );
    }
    let role = match m.role {
        Role::System => "system",
        Role::User | Role::Tool => "user",
        Role::Assistant => "assistant",
    };
    if texts.is_empty() && calls.is_empty() {
        // A message that only carried tool results, or nothing at all.
        return Ok(());
    }
    let mut msg = Map::new();
    msg.insert("role".into(), json!(role));
    if !texts.is_empty() {
        msg.insert("content".into(), Value::Array(texts));
    }
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    out.push(Value::Object(msg));
    Ok(())
}

/// `tools` and `tool_choice`; a named choice becomes `REQUIRED` with only
/// that tool offered (Cohere cannot name one).
fn tools(req: &ChatRequest, out: &mut Map<String, Value>, notes: &mut Notes) {
    let only = match &req.tool_choice {
        Some(ToolChoice::Tool(name)) => Some(name.as_str()),
        _ => None,
    };
    let mut list = Vec::with_capacity(req.tools.len());
    for t in req
        .tools
        .iter()
        .filter(|t| only.is_none_or(|n| n == t.name))
    {
        if t.strict.is_some() {
            notes.dropped(
                format!("tools.{}.strict", t.name),
                "Cohere has no per-tool strict flag",
            );
        }
        let mut function = json!({"name": t.name, "parameters": t.parameters});
        if let Some(d) = &t.description {
            function["description"] = json!(d);
        }
        list.push(json!({"type": "function", "function": function}));
    }
    if !list.is_empty() {
        out.insert("tools".into(), Value::Array(list));
    }
    let choice = match &req.tool_choice {
        None | Some(ToolChoice::Auto) => return,
        Some(ToolChoice::None) => "NONE",
        Some(ToolChoice::Required) => "REQUIRED",
        Some(ToolChoice::Tool(_)) => {
            notes.translated(
                "tool_choice",
                "Cohere cannot name a tool: sent as REQUIRED with only that tool offered",
            );
            "REQUIRED"
        }
    };
    out.insert("tool_choice".into(), json!(choice));
}

/// Sampling parameters, in Cohere's names (`p`, `k`, `stop_sequences`).
fn sampling(
    req: &ChatRequest,
    route: &RouteSettings,
    out: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let s = &req.sampling;
    if s.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::unsupported(
            TARGET,
            "n",
            "Cohere returns one answer per request",
        ));
    }
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    };
    put("temperature", s.temperature.map(Value::from));
    put("p", s.top_p.map(Value::from));
    put("k", s.top_k.map(Value::from));
    put(
        "max_tokens",
        route.max_tokens(s.max_tokens).map(Value::from),
    );
    put(
        "stop_sequences",
        (!s.stop.is_empty()).then(|| json!(s.stop)),
    );
    put("seed", s.seed.map(Value::from));
    put("presence_penalty", s.presence_penalty.map(Value::from));
    put("frequency_penalty", s.frequency_penalty.map(Value::from));
    Ok(())
}

/// `response_format`: JSON mode, with the schema under `json_schema`.
fn response_format(format: Option<&ResponseFormat>, notes: &mut Notes) -> Option<Value> {
    match format? {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(json!({"type": "json_object"})),
        ResponseFormat::JsonSchema { schema, strict, .. } => {
            if strict.is_some() {
                notes.dropped(
                    "response_format.json_schema.strict",
                    "Cohere has no strict flag on schemas",
                );
            }
            Some(json!({"type": "json_object", "json_schema": schema}))
        }
    }
}
