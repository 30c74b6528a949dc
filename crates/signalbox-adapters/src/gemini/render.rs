//! Owns rendering the canonical request as a Gemini `generateContent` body.

use serde_json::{Map, Value, json};

use super::schema;
use crate::anthropic::arguments;
use crate::canonical::{
    ChatRequest, Image, ImageSource, Part, ResponseFormat, ToolCall, ToolChoice, ToolResult,
};
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{ContentFilter, RouteSettings};
use crate::turns::{TurnStyle, text_of, turns};

const TARGET: &str = "gemini";

/// Harm categories the content-filter level applies to.
const CATEGORIES: [&str; 4] = [
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
];

/// The Gemini request body for `req` on `route`.
pub(crate) fn body(
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let mut out = Map::new();
    if let Some(system) = req.system_text() {
        out.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    out.insert(
        "contents".into(),
        Value::Array(turns::<Gemini>(req, notes)?),
    );
    tools(req, &mut out, notes)?;
    out.insert(
        "generationConfig".into(),
        Value::Object(generation(req, route, notes)?),
    );
    if let Some(level) = route.content_filter {
        out.insert("safetySettings".into(), safety(level));
    }
    notes.unsupported_extras("Gemini", req, route);
    Ok(out)
}

/// `safetySettings` realising a declared content-filter level.
pub(crate) fn safety(level: ContentFilter) -> Value {
    let threshold = match level {
        ContentFilter::Off => "OFF",
        ContentFilter::Low => "BLOCK_ONLY_HIGH",
        ContentFilter::Medium => "BLOCK_MEDIUM_AND_ABOVE",
        ContentFilter::High => "BLOCK_LOW_AND_ABOVE",
    };
    Value::Array(
        CATEGORIES
            .iter()
            .map(|c| json!({"category": c, "threshold": threshold}))
            .collect(),
    )
}

/// Gemini's spelling of turns.
struct Gemini;

impl TurnStyle for Gemini {
    const TARGET: &'static str = "Gemini";
    const ASSISTANT: &'static str = "model";
    const PARTS: &'static str = "parts";

    fn text(text: &str) -> Value {
        json!({"text": text})
    }

    fn image(image: &Image, i: usize) -> Result<Value, TranslateError> {
        image_part(&image.source, i)
    }

    fn tool_call(c: &ToolCall, i: usize) -> Result<Value, TranslateError> {
        Ok(json!({"functionCall": {
            "id": c.id, "name": c.name, "args": arguments(&c.arguments, i)?,
        }}))
    }

    /// Function responses are JSON objects: a JSON-object result is sent as
    /// is, anything else as `{"result": text}` (or `{"error": text}`).
    fn tool_result(
        req: &ChatRequest,
        r: &ToolResult,
        i: usize,
        notes: &mut Notes,
    ) -> Result<Value, TranslateError> {
        let name = call_name(req, i, &r.call_id)?;
        let text = text_of(&r.content);
        if r.content.iter().any(|p| !matches!(p, Part::Text(_))) {
            notes.dropped(
                format!("messages[{i}].tool_result.content"),
                "Gemini function responses carry JSON only",
            );
        }
        let key = if r.is_error { "error" } else { "result" };
        let response = match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) if !r.is_error => v,
            _ => json!({ key: text }),
        };
        Ok(json!({"functionResponse": {"id": r.call_id, "name": name, "response": response}}))
    }
}

/// The name of the tool called with `id`, from the latest earlier call.
fn call_name(req: &ChatRequest, before: usize, id: &str) -> Result<String, TranslateError> {
    req.messages[..before]
        .iter()
        .rev()
        .flat_map(|m| m.content.iter())
        .find_map(|p| match p {
            Part::ToolCall(c) if c.id == id => Some(c.name.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            TranslateError::invalid(
                format!("messages[{before}].tool_result.call_id"),
                format!("no earlier tool call has id {id:?}; Gemini needs the tool's name"),
            )
        })
}

fn image_part(source: &ImageSource, i: usize) -> Result<Value, TranslateError> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            Ok(json!({"inlineData": {"mimeType": media_type, "data": data}}))
        }
        ImageSource::Url(url)
            if url.starts_with("gs://")
                || url.starts_with("https://generativelanguage.googleapis.com/") =>
        {
            Ok(json!({"fileData": {"mimeType": mime_from_url(url), "fileUri": url}}))
        }
        ImageSource::Url(_) => Err(TranslateError::unsupported(
            TARGET,
            format!("messages[{i}].image.url"),
            "Gemini takes images inline or as Files API / gs:// URIs, not web URLs",
        )),
    }
}

fn mime_from_url(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    match lower.rsplit('.').next() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        _ => "image/jpeg",
    }
}

fn tools(
    req: &ChatRequest,
    out: &mut Map<String, Value>,
    notes: &mut Notes,
) -> Result<(), TranslateError> {
    if !req.tools.is_empty() {
        let mut decls = Vec::with_capacity(req.tools.len());
        for t in &req.tools {
            let field = format!("tools.{}.parameters", t.name);
            let (params, removed) = schema::fit(&t.parameters, &field)?;
            if !removed.is_empty() {
                notes.translated(
                    &field,
                    format!("Gemini Schema lacks: {}", removed.join(", ")),
                );
            }
            if t.strict.is_some() {
                notes.dropped(
                    format!("tools.{}.strict", t.name),
                    "Gemini has no strict flag",
                );
            }
            let mut d = json!({"name": t.name, "parameters": params});
            if let Some(desc) = &t.description {
                d["description"] = json!(desc);
            }
            decls.push(d);
        }
        out.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    let config = match &req.tool_choice {
        None => return Ok(()),
        Some(ToolChoice::Auto) => json!({"mode": "AUTO"}),
        Some(ToolChoice::None) => json!({"mode": "NONE"}),
        Some(ToolChoice::Required) => json!({"mode": "ANY"}),
        Some(ToolChoice::Tool(name)) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    };
    out.insert(
        "toolConfig".into(),
        json!({"functionCallingConfig": config}),
    );
    Ok(())
}

fn generation(
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Result<Map<String, Value>, TranslateError> {
    let s = &req.sampling;
    let mut g = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            g.insert(k.into(), v);
        }
    };
    put("temperature", s.temperature.map(Value::from));
    put("topP", s.top_p.map(Value::from));
    put("topK", s.top_k.map(Value::from));
    put(
        "maxOutputTokens",
        route.max_tokens(s.max_tokens).map(Value::from),
    );
    put("stopSequences", (!s.stop.is_empty()).then(|| json!(s.stop)));
    put("seed", s.seed.map(Value::from));
    put("candidateCount", s.n.map(Value::from));
    put("presencePenalty", s.presence_penalty.map(Value::from));
    put("frequencyPenalty", s.frequency_penalty.map(Value::from));
    if let Some(budget) = crate::reasoning::budget("Gemini", req, route, notes) {
        g.insert("thinkingConfig".into(), json!({"thinkingBudget": budget}));
        notes.translated(
            crate::reasoning::FIELD,
            format!(
                "sent as generationConfig.thinkingConfig.thinkingBudget={budget} (low/medium/high: 1024/4096/16384)"
            ),
        );
    }
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            g.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { schema, strict, .. }) => {
            let field = "response_format.json_schema.schema";
            let (fitted, removed) = schema::fit(schema, field)?;
            if !removed.is_empty() {
                notes.translated(
                    field,
                    format!("Gemini Schema lacks: {}", removed.join(", ")),
                );
            }
            if strict.is_some() {
                notes.dropped(
                    "response_format.json_schema.strict",
                    "Gemini has no strict flag",
                );
            }
            g.insert("responseMimeType".into(), json!("application/json"));
            g.insert("responseSchema".into(), fitted);
        }
    }
    Ok(g)
}
