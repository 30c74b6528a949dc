//! Owns rendering the canonical request as an OpenAI chat-completions body,
//! applying a provider's quirks. Shared by the OpenAI and Azure adapters.

use serde_json::{Map, Value, json};

use crate::canonical::{
    ChatRequest, Dialect, Image, ImageSource, Message, Part, ResponseFormat, Role, ToolChoice,
};
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{Retention, RouteSettings};
use signalbox_core::{MaxTokensField, OpenAiQuirks};

const TARGET: &str = "openai";

/// The OpenAI request body for `req` on `route`.
pub(crate) fn body(
    req: &ChatRequest,
    route: &RouteSettings,
    quirks: &OpenAiQuirks,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(route.upstream_model));
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        render_message(m, i, &mut messages, notes)?;
    }
    out.insert("messages".into(), Value::Array(messages));
    tools(req, quirks, &mut out, notes);
    if let Some(p) = req.parallel_tool_calls {
        if quirks.parallel_tool_calls {
            out.insert("parallel_tool_calls".into(), json!(p));
        } else {
            notes.dropped("parallel_tool_calls", "provider does not accept it");
        }
    }
    if let Some(f) = &req.response_format {
        out.insert("response_format".into(), response_format(f, quirks)?);
    }
    sampling(req, route, quirks, &mut out, notes);
    if let Some(effort) = req.reasoning {
        // The chat API's own field, same values, whatever the ingress.
        out.insert("reasoning_effort".into(), json!(effort.as_str()));
    }
    if req.stream {
        out.insert("stream".into(), json!(true));
        if quirks.stream_options {
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    optional(&mut out, "user", req.user.as_ref(), quirks.user, notes);
    optional(
        &mut out,
        "metadata",
        req.metadata.as_ref(),
        quirks.metadata,
        notes,
    );
    extra(req, &mut out, notes);
    posture(route, quirks, &mut out, notes);
    Ok(out)
}

fn optional<T: serde::Serialize>(
    out: &mut Map<String, Value>,
    key: &str,
    value: Option<&T>,
    accepted: bool,
    notes: &mut Notes,
) {
    let Some(value) = value else { return };
    if accepted {
        out.insert(key.into(), json!(value));
    } else {
        notes.dropped(key, "provider does not accept it");
    }
}

fn render_message(
    m: &Message,
    i: usize,
    out: &mut Vec<Value>,
    notes: &mut Notes,
) -> Result<(), TranslateError> {
    // Tool results become `tool` messages, whatever message carried them.
    let mut rest = Vec::with_capacity(m.content.len());
    for part in &m.content {
        if let Part::ToolResult(r) = part {
            let content = tool_result_content(&r.content, i, notes);
            if r.is_error {
                notes.translated(
                    format!("messages[{i}].tool_result.is_error"),
                    "OpenAI has no error flag on tool results; the content says it",
                );
            }
            out.push(json!({"role": "tool", "tool_call_id": r.call_id, "content": content}));
        } else {
            rest.push(part);
        }
    }
    if rest.is_empty() && m.role == Role::Tool {
        return Ok(());
    }
    let role = match m.role {
        Role::System => "system",
        Role::User | Role::Tool => "user",
        Role::Assistant => "assistant",
    };
    let mut msg = Map::new();
    msg.insert("role".into(), json!(role));
    if m.role == Role::Assistant {
        let (calls, texts): (Vec<&Part>, Vec<&Part>) = rest
            .into_iter()
            .partition(|p| matches!(p, Part::ToolCall(_)));
        msg.insert("content".into(), content(&texts, i)?.unwrap_or(Value::Null));
        if !calls.is_empty() {
            let calls: Vec<Value> = calls
                .into_iter()
                .filter_map(|p| match p {
                    Part::ToolCall(c) => Some(json!({
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    })),
                    _ => None,
                })
                .collect();
            msg.insert("tool_calls".into(), Value::Array(calls));
        }
    } else {
        if rest.iter().any(|p| matches!(p, Part::ToolCall(_))) {
            return Err(TranslateError::invalid(
                format!("messages[{i}].content"),
                "only assistant messages may carry tool calls",
            ));
        }
        msg.insert(
            "content".into(),
            content(&rest, i)?.unwrap_or_else(|| json!("")),
        );
    }
    if let Some(name) = &m.name {
        msg.insert("name".into(), json!(name));
    }
    out.push(Value::Object(msg));
    Ok(())
}

/// A single text part renders as a string, anything else as a parts array;
/// `None` when there is nothing.
fn content(parts: &[&Part], i: usize) -> Result<Option<Value>, TranslateError> {
    if let [Part::Text(t)] = parts {
        return Ok(Some(json!(t)));
    }
    if parts.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Part::Text(t) => out.push(json!({"type": "text", "text": t})),
            Part::Image(img) => out.push(image(img)),
            Part::ToolCall(_) | Part::ToolResult(_) => {
                return Err(TranslateError::invalid(
                    format!("messages[{i}].content"),
                    "tool parts cannot be nested here",
                ));
            }
        }
    }
    Ok(Some(Value::Array(out)))
}

fn image(img: &Image) -> Value {
    let url = match &img.source {
        ImageSource::Url(u) => u.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    };
    let mut image_url = json!({"url": url});
    if let Some(d) = &img.detail {
        image_url["detail"] = json!(d);
    }
    json!({"type": "image_url", "image_url": image_url})
}

/// Tool messages take text only: a single string, or text parts.
fn tool_result_content(parts: &[Part], i: usize, notes: &mut Notes) -> Value {
    let mut texts = Vec::new();
    for p in parts {
        match p {
            Part::Text(t) => texts.push(t.as_str()),
            _ => notes.dropped(
                format!("messages[{i}].tool_result.content"),
                "OpenAI tool messages carry text only",
            ),
        }
    }
    match texts.as_slice() {
        [one] => json!(one),
        many => Value::Array(
            many.iter()
                .map(|t| json!({"type": "text", "text": t}))
                .collect(),
        ),
    }
}

fn tools(
    req: &ChatRequest,
    quirks: &OpenAiQuirks,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) {
    let mut only: Option<&str> = None;
    match &req.tool_choice {
        None => {}
        Some(ToolChoice::Auto) => {
            out.insert("tool_choice".into(), json!("auto"));
        }
        Some(ToolChoice::None) => {
            out.insert("tool_choice".into(), json!("none"));
        }
        Some(ToolChoice::Required) => {
            out.insert("tool_choice".into(), json!("required"));
        }
        Some(ToolChoice::Tool(name)) if quirks.tool_choice_object => {
            out.insert(
                "tool_choice".into(),
                json!({"type": "function", "function": {"name": name}}),
            );
        }
        Some(ToolChoice::Tool(name)) => {
            notes.translated(
                "tool_choice",
                "named choice sent as \"required\" with only that tool offered",
            );
            out.insert("tool_choice".into(), json!("required"));
            only = Some(name);
        }
    }
    if req.tools.is_empty() {
        return;
    }
    let tools: Vec<Value> = req
        .tools
        .iter()
        .filter(|t| only.is_none_or(|n| n == t.name))
        .map(|t| {
            let mut f = json!({"name": t.name, "parameters": t.parameters});
            if let Some(d) = &t.description {
                f["description"] = json!(d);
            }
            if let Some(s) = t.strict {
                f["strict"] = json!(s);
            }
            json!({"type": "function", "function": f})
        })
        .collect();
    out.insert("tools".into(), Value::Array(tools));
}

fn response_format(f: &ResponseFormat, quirks: &OpenAiQuirks) -> Result<Value, TranslateError> {
    Ok(match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema { .. } if !quirks.json_schema => {
            return Err(TranslateError::unsupported(
                TARGET,
                "response_format.json_schema",
                "this provider does not enforce JSON schemas",
            ));
        }
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            let mut s = json!({"name": name, "schema": schema});
            if let Some(d) = description {
                s["description"] = json!(d);
            }
            if let Some(st) = strict {
                s["strict"] = json!(st);
            }
            json!({"type": "json_schema", "json_schema": s})
        }
    })
}

fn sampling(
    req: &ChatRequest,
    route: &RouteSettings,
    quirks: &OpenAiQuirks,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) {
    let s = &req.sampling;
    let mut put = |k: &str, v: Value| {
        out.insert(k.into(), v);
    };
    if let Some(t) = s.temperature {
        put("temperature", json!(t));
    }
    if let Some(p) = s.top_p {
        put("top_p", json!(p));
    }
    if let Some(max) = route.max_tokens(s.max_tokens) {
        let key = match quirks.max_tokens_field {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        };
        put(key, json!(max));
    }
    if !s.stop.is_empty() {
        put("stop", json!(s.stop));
    }
    if let Some(n) = s.n {
        put("n", json!(n));
    }
    if let Some(p) = s.presence_penalty {
        put("presence_penalty", json!(p));
    }
    if let Some(f) = s.frequency_penalty {
        put("frequency_penalty", json!(f));
    }
    match s.seed {
        Some(seed) if quirks.seed => put("seed", json!(seed)),
        Some(_) => notes.dropped("sampling.seed", "provider does not accept `seed`"),
        None => {}
    }
    if s.top_k.is_some() {
        notes.dropped("sampling.top_k", "OpenAI chat completions has no top_k");
    }
}

/// Unknown fields pass through to OpenAI-format targets only.
fn extra(req: &ChatRequest, out: &mut Map<String, Value>, notes: &mut Notes) {
    for (k, v) in &req.extra {
        if req.dialect == Dialect::OpenAi && !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        } else {
            notes.dropped(format!("extra.{k}"), "not understood by the OpenAI format");
        }
    }
}

fn posture(
    route: &RouteSettings,
    quirks: &OpenAiQuirks,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) {
    if route.retention == Retention::None {
        if quirks.store {
            if out.get("store") == Some(&json!(true)) {
                notes.translated("extra.store", "route retention is none: sent store=false");
            }
            out.insert("store".into(), json!(false));
        } else {
            notes.dropped(
                "route.retention",
                "provider has no per-request store flag; relies on the account's terms",
            );
        }
    }
    if route.content_filter.is_some() {
        notes.dropped(
            "route.content_filter",
            "OpenAI has no per-request content filter setting",
        );
    }
}
