//! Owns reading a Gemini request (path and body) into the format-neutral prompt
//! (a `generationConfig.responseSchema` is answered natively, with the canned
//! object).

use http::Uri;
use serde::Deserialize;

use super::GeminiRequest;
use crate::mock::Parsed;
use crate::mock::Prompt;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    contents: Vec<Content>,
    #[serde(default)]
    system_instruction: Option<Content>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
    #[serde(default)]
    generation_config: Option<GenerationConfig>,
}

/// A `responseSchema` is enforced natively, as the real API does.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default)]
    response_schema: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    #[serde(default)]
    function_declarations: Vec<Declaration>,
}

#[derive(Deserialize)]
struct Declaration {
    name: String,
}

impl Content {
    fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| p.text.as_deref())
    }
}

/// The model and whether to stream, from `/v1beta/models/{model}:{method}`.
pub(super) fn target(uri: &Uri) -> Result<(&str, bool), String> {
    let last = uri.path().rsplit('/').next().unwrap_or_default();
    let Some((model, method)) = last.rsplit_once(':') else {
        return Err(format!(
            "mock: expected models/{{model}}:{{method}}, got {last:?}"
        ));
    };
    match method {
        "generateContent" => Ok((model, false)),
        "streamGenerateContent" if uri.query().is_some_and(|q| q.contains("alt=sse")) => {
            Ok((model, true))
        }
        "streamGenerateContent" => Err("mock: only alt=sse streaming is supported".to_owned()),
        other => Err(format!("mock: unknown method {other:?}")),
    }
}

/// Parses a `generateContent` body; `Err` carries the message of the 400 answer.
pub(super) fn parse(
    body: &[u8],
    model: &str,
    stream: bool,
) -> Result<Parsed<GeminiRequest>, String> {
    let request: Request = serde_json::from_slice(body)
        .map_err(|e| format!("invalid generateContent request: {e}"))?;
    let mut prompt = Prompt {
        first_tool: request
            .tools
            .iter()
            .flatten()
            .flat_map(|t| &t.function_declarations)
            .next()
            .map(|d| d.name.clone()),
        json_schema: request
            .generation_config
            .is_some_and(|g| g.response_schema.is_some()),
        ..Prompt::default()
    };
    if let Some(system) = &request.system_instruction {
        prompt.add_message(false, system.texts());
    }
    for c in &request.contents {
        prompt.add_message(c.role.as_deref() != Some("model"), c.texts());
    }
    Ok(Parsed {
        request: GeminiRequest {
            include_usage: false,
            thinking: false,
            responses: false,
            model: model.to_owned(),
        },
        prompt,
        stream,
    })
}
