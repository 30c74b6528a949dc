//! Owns rendering the canonical request as a Bedrock Converse body.

use serde_json::{Map, Value, json};

use crate::anthropic::arguments;
use crate::canonical::{
    ChatRequest, Image, ImageSource, Part, ResponseFormat, ToolCall, ToolChoice, ToolResult,
};
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::RouteSettings;
use crate::turns::{TurnStyle, turns};

const TARGET: &str = "bedrock";

/// Sentence added to the system prompt for OpenAI's JSON mode.
const JSON_INSTRUCTION: &str = "Respond with a single valid JSON object and nothing else.";

/// The Converse (and ConverseStream) body for `req` on `route`.
pub(crate) fn body(
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let mut out = Map::new();
    let mut system: Vec<Value> = req
        .system_text()
        .map(|t| json!({"text": t}))
        .into_iter()
        .collect();
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            notes.translated(
                "response_format.json_object",
                "Converse has no JSON mode: instruction added to the system prompt",
            );
            system.push(json!({"text": JSON_INSTRUCTION}));
        }
        // Enforced by a forced tool (`forced`).
        Some(ResponseFormat::JsonSchema { .. }) => {}
    }
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    out.insert(
        "messages".into(),
        Value::Array(turns::<Converse>(req, notes)?),
    );
    out.insert(
        "inferenceConfig".into(),
        Value::Object(inference(req, route, notes)?),
    );
    if let Some(tools) = forced(req, notes)? {
        out.insert("toolConfig".into(), tools);
    } else if let Some(tools) = tool_config(req, notes)? {
        out.insert("toolConfig".into(), tools);
    }
    thinking(req, route, &mut out, notes);
    for (field, present) in [
        ("user", req.user.is_some()),
        ("metadata", req.metadata.is_some()),
        ("parallel_tool_calls", req.parallel_tool_calls.is_some()),
    ] {
        if present {
            notes.dropped(field, "Converse has no equivalent");
        }
    }
    for k in req.extra.keys() {
        notes.dropped(format!("extra.{k}"), "not understood by Converse");
    }
    if route.content_filter.is_some() {
        notes.dropped(
            "route.content_filter",
            "Bedrock filters through guardrails configured on the account",
        );
    }
    Ok(out)
}

/// Extended thinking for a reasoning effort (`crate::reasoning`): Converse
/// carries it only for Anthropic models, in `additionalModelRequestFields`
/// (the Messages API's own `thinking`), with `maxTokens` fitted around it.
fn thinking(
    req: &ChatRequest,
    route: &RouteSettings,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) {
    if req.reasoning.is_none() {
        return;
    }
    if !route.upstream_model.contains("anthropic.") {
        notes.dropped(
            crate::reasoning::FIELD,
            "Converse takes a thinking budget only for Anthropic models",
        );
        return;
    }
    let forced = out
        .get("toolConfig")
        .and_then(|t| t.get("toolChoice"))
        .is_some_and(|c| c.get("any").is_some() || c.get("tool").is_some());
    let Some(Value::Object(config)) = out.get_mut("inferenceConfig") else {
        return;
    };
    // Without any limit the model's default applies; Anthropic's is 4096.
    let max_tokens = config
        .get("maxTokens")
        .and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
        .unwrap_or(4096);
    let Some((thinking, max_tokens)) =
        crate::reasoning::anthropic_thinking("Bedrock", req, route, max_tokens, forced, notes)
    else {
        return;
    };
    config.insert("maxTokens".into(), json!(max_tokens));
    crate::reasoning::strip_sampling(config, ["temperature", "topK", "topP"], notes);
    out.insert(
        "additionalModelRequestFields".into(),
        json!({"thinking": thinking}),
    );
}

/// Converse's spelling of turns.
struct Converse;

impl TurnStyle for Converse {
    const TARGET: &'static str = "Converse";
    const ASSISTANT: &'static str = "assistant";
    const PARTS: &'static str = "content";

    fn text(text: &str) -> Value {
        json!({"text": text})
    }

    fn image(image: &Image, i: usize) -> Result<Value, TranslateError> {
        image_block(&image.source, i)
    }

    fn tool_call(c: &ToolCall, i: usize) -> Result<Value, TranslateError> {
        Ok(json!({"toolUse": {
            "toolUseId": c.id, "name": c.name, "input": arguments(&c.arguments, i)?,
        }}))
    }

    fn tool_result(
        _req: &ChatRequest,
        r: &ToolResult,
        i: usize,
        _notes: &mut Notes,
    ) -> Result<Value, TranslateError> {
        let mut content = Vec::new();
        for p in &r.content {
            match p {
                Part::Text(t) => content.push(json!({"text": t})),
                Part::Image(img) => content.push(image_block(&img.source, i)?),
                Part::ToolCall(_) | Part::ToolResult(_) => {}
            }
        }
        let status = if r.is_error { "error" } else { "success" };
        Ok(json!({"toolResult": {"toolUseId": r.call_id, "content": content, "status": status}}))
    }
}

fn image_block(source: &ImageSource, i: usize) -> Result<Value, TranslateError> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            let format = match media_type.as_str() {
                "image/png" => "png",
                "image/jpeg" | "image/jpg" => "jpeg",
                "image/gif" => "gif",
                "image/webp" => "webp",
                other => {
                    return Err(TranslateError::unsupported(
                        TARGET,
                        format!("messages[{i}].image.media_type"),
                        format!("Converse takes png, jpeg, gif or webp, not {other}"),
                    ));
                }
            };
            Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
        }
        ImageSource::Url(_) => Err(TranslateError::unsupported(
            TARGET,
            format!("messages[{i}].image.url"),
            "Converse takes inline image bytes, not URLs",
        )),
    }
}

fn inference(
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let s = &req.sampling;
    let mut c = Map::new();
    if let Some(max) = route.max_tokens(s.max_tokens) {
        c.insert("maxTokens".into(), json!(max));
    }
    if let Some(t) = s.temperature {
        c.insert("temperature".into(), json!(t));
    }
    if let Some(p) = s.top_p {
        c.insert("topP".into(), json!(p));
    }
    if !s.stop.is_empty() {
        c.insert("stopSequences".into(), json!(s.stop));
    }
    if s.n.is_some_and(|n| n > 1) {
        return Err(TranslateError::unsupported(
            TARGET,
            // The client's name for it, as every refusal names its field.
            "n",
            "Converse generates one choice per request",
        ));
    }
    for (field, present) in [
        ("sampling.top_k", s.top_k.is_some()),
        ("sampling.seed", s.seed.is_some()),
        ("sampling.presence_penalty", s.presence_penalty.is_some()),
        ("sampling.frequency_penalty", s.frequency_penalty.is_some()),
    ] {
        if present {
            notes.dropped(field, "Converse's inferenceConfig has no equivalent");
        }
    }
    Ok(c)
}

/// A JSON schema enforced by forcing one tool that takes it as its input
/// (`crate::structured`).
fn forced(req: &ChatRequest, notes: &mut Notes) -> Result<Option<Value>, TranslateError> {
    let Some(tool) = crate::structured::forced_tool(req, TARGET)? else {
        return Ok(None);
    };
    let name = crate::structured::TOOL;
    notes.translated(
        "response_format.json_schema",
        "enforced by a forced tool call whose input is the answer",
    );
    Ok(Some(json!({
        "tools": [{"toolSpec": {"name": name, "description": tool.description,
                                "inputSchema": {"json": tool.schema}}}],
        "toolChoice": {"tool": {"name": name}},
    })))
}

fn tool_config(req: &ChatRequest, notes: &mut Notes) -> Result<Option<Value>, TranslateError> {
    if req.tools.is_empty() {
        return Ok(None);
    }
    let choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Tool(name)) => Some(json!({"tool": {"name": name}})),
        Some(ToolChoice::None) if !req.has_tool_history() => {
            notes.translated("tool_choice", "\"none\" realised by not offering the tools");
            return Ok(None);
        }
        Some(ToolChoice::None) => {
            return Err(TranslateError::unsupported(
                TARGET,
                "tool_choice",
                "Converse cannot forbid tool calls while the history uses tools",
            ));
        }
    };
    let tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            if t.strict.is_some() {
                notes.dropped(
                    format!("tools.{}.strict", t.name),
                    "Converse has no strict flag",
                );
            }
            let mut spec = json!({"name": t.name, "inputSchema": {"json": t.parameters}});
            if let Some(d) = &t.description {
                spec["description"] = json!(d);
            }
            json!({"toolSpec": spec})
        })
        .collect();
    let mut config = json!({"tools": tools});
    if let Some(c) = choice {
        config["toolChoice"] = c;
    }
    Ok(Some(config))
}
