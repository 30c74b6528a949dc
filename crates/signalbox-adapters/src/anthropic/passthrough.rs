//! Owns the Anthropic→Anthropic fast path: reading a `/v1/messages` body
//! once into both the client's own body (forwarded as is to Anthropic
//! routes) and the canonical request (for policy, privacy, and routes of
//! other families), forwarding that body, and reading usage from answers
//! that are passed back untranslated.
//!
//! Content blocks the canonical model does not carry (`document`,
//! `thinking`, `redacted_thinking`, server-tool blocks, …) and server tools
//! (`web_search_…`) stay in the client's body and are left out of the
//! canonical request; the first one is named in the origin's
//! `untranslatable`, so translating the request for another family fails
//! with that field's path instead of losing it.

use serde::Deserialize;
use serde_json::{Map, Value};
use signalbox_core::request::{NativeBody, Origin, WireFormat};
use signalbox_core::{RequestError, Usage};

use super::{API_VERSION, AnthropicAdapter, ingress, wire};
use crate::canonical::ChatRequest;
use crate::error::TranslateError;
use crate::route::{UpstreamRequest, join_url};

/// Content block types the canonical model carries.
const TRANSLATABLE_BLOCKS: [&str; 4] = ["text", "image", "tool_use", "tool_result"];

/// A `/v1/messages` body read once.
#[derive(Debug)]
pub struct Ingress {
    /// The canonical request (untranslatable blocks left out).
    pub canonical: ChatRequest,
    /// The client's own body and what the canonical request lacks.
    pub origin: Origin,
}

impl Ingress {
    /// The request in OpenAI's chat format, as the pipeline reads it (the
    /// alias stays the model; nothing is serialised). What reading the
    /// body and rendering the view dropped or changed goes to
    /// `origin.notes`, recorded whenever the request is translated.
    pub fn openai_view(&mut self) -> Result<Map<String, Value>, TranslateError> {
        let view = crate::openai::view(&mut self.canonical);
        self.origin.notes = std::mem::take(&mut self.canonical.notes);
        view
    }
}

/// Parses an Anthropic Messages body; `beta` is the client's
/// `anthropic-beta` header. Errors name the field.
pub fn parse_ingress(body: &[u8], beta: Option<String>) -> Result<Ingress, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::Syntax(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(RequestError::Invalid {
            field: "(body)".into(),
            problem: "must be a JSON object".into(),
        });
    };
    // Read in place; copied (without the blocks) only when it has any.
    let untranslatable = first_untranslatable(&map);
    let wire = match &untranslatable {
        None => read_wire(&map)?,
        Some(_) => read_wire(&translatable_view(&map))?,
    };
    let canonical = ingress::from_wire(wire)?;
    Ok(Ingress {
        canonical,
        origin: Origin {
            native: NativeBody {
                format: WireFormat::Anthropic,
                body: map,
                beta,
            },
            untranslatable,
            notes: Vec::new(),
        },
    })
}

/// The wire request, errors naming the field's path.
fn read_wire(map: &Map<String, Value>) -> Result<wire::Request, RequestError> {
    serde_path_to_error::deserialize(map).map_err(|e| {
        let field = e.path().to_string();
        RequestError::Invalid {
            field: if field == "." { "(body)".into() } else { field },
            problem: e.into_inner().to_string(),
        }
    })
}

/// The body without the content blocks the canonical model cannot carry.
fn translatable_view(map: &Map<String, Value>) -> Map<String, Value> {
    let mut view = map.clone();
    if let Some(Value::Array(tools)) = view.get_mut("tools") {
        tools.retain(|t| server_tool(t).is_none());
    }
    if let Some(Value::Array(messages)) = view.get_mut("messages") {
        for m in messages.iter_mut() {
            if let Some(Value::Array(blocks)) = m.get_mut("content") {
                strip(blocks);
            }
        }
    }
    view
}

/// A server tool's type (`web_search_…`, `bash_…`: run by Anthropic, not
/// by the client); `None` for a client tool (no type, or `custom`).
fn server_tool(tool: &Value) -> Option<&str> {
    tool.get("type")
        .and_then(Value::as_str)
        .filter(|k| *k != "custom")
}

/// Removes untranslatable blocks, also inside tool results.
fn strip(blocks: &mut Vec<Value>) {
    blocks.retain(translatable);
    for b in blocks.iter_mut() {
        if let Some(Value::Array(inner)) = b.get_mut("content") {
            inner.retain(translatable);
        }
    }
}

fn translatable(block: &Value) -> bool {
    block
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| TRANSLATABLE_BLOCKS.contains(&t))
        || !block.is_object()
}

/// `messages[i].content[j]: content type `document` …` for the first block
/// the canonical model cannot carry.
fn first_untranslatable(map: &Map<String, Value>) -> Option<String> {
    let server_tool = map
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .find_map(|(i, t)| server_tool(t).map(|kind| (i, kind)));
    if let Some((i, kind)) = server_tool {
        return Some(format!(
            "tools[{i}].type: server tool `{kind}` is only carried to Anthropic routes \
             (and only when no privacy or prompt rewrite applies)"
        ));
    }
    let messages = map.get("messages")?.as_array()?;
    for (i, m) in messages.iter().enumerate() {
        let Some(Value::Array(blocks)) = m.get("content") else {
            continue;
        };
        for (j, b) in blocks.iter().enumerate() {
            let nested = b.get("content").and_then(Value::as_array);
            let inner = nested
                .into_iter()
                .flatten()
                .enumerate()
                .find(|(_, b)| !translatable(b))
                .map(|(k, b)| (format!("messages[{i}].content[{j}].content[{k}]"), b));
            let found = (!translatable(b))
                .then(|| (format!("messages[{i}].content[{j}]"), b))
                .or(inner);
            if let Some((field, block)) = found {
                let kind = block.get("type").and_then(Value::as_str).unwrap_or("?");
                return Some(format!(
                    "{field}: content type `{kind}` is only carried to Anthropic routes \
                     (and only when no privacy or prompt rewrite applies)"
                ));
            }
        }
    }
    None
}

impl AnthropicAdapter {
    /// `POST {base_url}/v1/messages` with the client's own body (already
    /// given its upstream model) and `anthropic-beta` header.
    pub fn forward(
        &self,
        body: Vec<u8>,
        stream: bool,
        beta: Option<&str>,
    ) -> Result<UpstreamRequest, TranslateError> {
        let mut request =
            UpstreamRequest::post_json(join_url(&self.base_url, "v1/messages"), body, stream);
        if let Some(key) = &self.api_key {
            request.secret_header("x-api-key", key.expose())?;
        }
        request.header("anthropic-version", API_VERSION)?;
        if let Some(beta) = beta {
            request.header("anthropic-beta", beta)?;
        }
        Ok(request)
    }
}

/// Anthropic's usage; prompt tokens count cache writes and reads too, as
/// the translating path counts them.
#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

impl WireUsage {
    fn merge_into(self, u: &mut Usage) {
        if let Some(n) = self.input_tokens {
            u.prompt_tokens = n
                + self.cache_creation_input_tokens.unwrap_or(0)
                + self.cache_read_input_tokens.unwrap_or(0);
        }
        if let Some(n) = self.output_tokens {
            u.completion_tokens = n;
        }
    }
}

/// Checks that a non-streamed answer is an Anthropic message (an object
/// with `content`) and reads its usage.
pub fn usage_of_message(body: &[u8]) -> Result<Option<Usage>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Message {
        #[serde(rename = "content")]
        _content: serde::de::IgnoredAny,
        usage: Option<WireUsage>,
    }
    let m: Message = serde_json::from_slice(body)?;
    Ok(m.usage.map(|w| {
        let mut u = Usage::default();
        w.merge_into(&mut u);
        u
    }))
}

/// The `(type, message)` of an Anthropic stream `error` event's data.
pub fn error_event(data: &str) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: String,
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        message: String,
    }
    if !data.contains("\"error\"") {
        return None;
    }
    let ev: Event = serde_json::from_str(data).ok()?;
    (ev.kind == "error").then_some((ev.error.kind, ev.error.message))
}

/// Folds one Anthropic stream event's usage into `usage`: input tokens
/// from `message_start`, output tokens from `message_delta`. Returns
/// whether the event carried usage.
pub fn usage_of_event(data: &str, usage: &mut Usage) -> bool {
    #[derive(Deserialize)]
    struct Event {
        #[serde(default)]
        message: Option<Start>,
        #[serde(default)]
        usage: Option<WireUsage>,
    }
    #[derive(Deserialize)]
    struct Start {
        usage: Option<WireUsage>,
    }
    if !data.contains("\"usage\"") {
        return false;
    }
    let Ok(ev) = serde_json::from_str::<Event>(data) else {
        return false;
    };
    let Some(u) = ev.usage.or(ev.message.and_then(|m| m.usage)) else {
        return false;
    };
    u.merge_into(usage);
    true
}

#[cfg(test)]
mod tests;
