//! Owns reading a legacy completions body into the canonical request.

use serde::Deserialize;
use serde_json::{Map, Value};
use signalbox_core::RequestError;

use crate::canonical::{ChatRequest, Dialect, Message, Role};
use crate::note::{NoteAction, TranslationNote};

/// The fields read; `extra` holds the rest (noted or refused).
#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    prompt: Option<Prompt>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    seed: Option<i64>,
    #[serde(default)]
    presence_penalty: Option<f64>,
    #[serde(default)]
    frequency_penalty: Option<f64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<Value>,
    #[serde(default)]
    user: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Prompt {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// Fields whose meaning a chat answer cannot keep: refused, not faked.
const REFUSED: [&str; 4] = ["suffix", "echo", "best_of", "logprobs"];

/// Parses a legacy completions body. Errors name the field.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, RequestError> {
    let wire: Request = crate::parse_json(body)?;
    for field in REFUSED {
        if wire
            .extra
            .get(field)
            .is_some_and(|v| !v.is_null() && *v != Value::Bool(false))
        {
            return Err(invalid(
                field,
                "is not supported: completions are served by chat models",
            ));
        }
    }
    if wire
        .extra
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 1)
    {
        return Err(invalid("n", "must be 1: one completion per request"));
    }
    let model = wire
        .model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("model", "is required"))?;
    let prompt = match wire.prompt {
        None => return Err(invalid("prompt", "is required")),
        Some(Prompt::One(p)) => p,
        Some(Prompt::Many(mut p)) if p.len() == 1 => p.remove(0),
        Some(Prompt::Many(_)) => {
            return Err(invalid(
                "prompt",
                "must be one string (batched prompts are not supported)",
            ));
        }
    };
    if prompt.is_empty() {
        return Err(invalid("prompt", "must not be empty"));
    }
    let mut req = ChatRequest::new(model, Dialect::OpenAi);
    req.messages.push(Message::text(Role::User, prompt));
    req.sampling.max_tokens = wire.max_tokens;
    req.sampling.temperature = wire.temperature;
    req.sampling.top_p = wire.top_p;
    req.sampling.stop = match wire.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    req.sampling.seed = wire.seed;
    req.sampling.presence_penalty = wire.presence_penalty;
    req.sampling.frequency_penalty = wire.frequency_penalty;
    req.stream = wire.stream.unwrap_or(false);
    req.stream_usage = wire
        .stream_options
        .as_ref()
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    req.user = wire.user;
    req.notes = wire
        .extra
        .iter()
        .filter(|(k, v)| !v.is_null() && !REFUSED.contains(&k.as_str()) && k.as_str() != "n")
        .map(|(k, _)| TranslationNote {
            field: k.clone(),
            action: NoteAction::Dropped,
            reason: "not expressible through the chat APIs Signalbox reaches providers with".into(),
        })
        .collect();
    Ok(req)
}

fn invalid(field: &str, problem: &str) -> RequestError {
    RequestError::Invalid {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}
