//! Owns the embeddings wire: reading a client's OpenAI embeddings body
//! ([`parse_request`], untrusted input: every refusal names its field),
//! splitting its inputs into a route's batches ([`batches`]), and
//! reassembling the batches' answers in input order with their usage
//! summed ([`merge`]). OpenAI, Azure OpenAI and OpenAI-compatible servers
//! (vLLM, Ollama, TEI) all speak this wire; Gemini's `batchEmbedContents`
//! ([`gemini`]), Bedrock's Titan and Cohere Embed models ([`bedrock`]) and
//! Cohere's `/v2/embed` ([`cohere`]) are translated to and from it.
//!
//! The body stays JSON: fields the gateway does not interpret (a
//! provider's `input_type`, `truncate`, …) pass on to OpenAI-compatible
//! routes as the client wrote them. No I/O, no clock.

pub mod bedrock;
pub mod cohere;
pub mod gemini;
mod merge;

use serde_json::{Map, Value};
use signalbox_core::RequestError;
#[cfg(test)]
use signalbox_core::Usage;

use crate::adapter::EmbeddingsBody;

pub use merge::{EmbeddingAnswer, check_dimensions, merge, read_answer};

/// How the client wants vectors written (`encoding_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// JSON arrays of numbers (the default).
    #[default]
    Float,
    /// Base64 of little-endian `f32`s.
    Base64,
}

impl Encoding {
    /// The request's `encoding_format` (validated by [`parse_request`]).
    pub fn of(body: &Map<String, Value>) -> Self {
        match body.get("encoding_format").and_then(Value::as_str) {
            Some("base64") => Self::Base64,
            _ => Self::Float,
        }
    }
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Reads and validates an embeddings request body: `model` (a non-empty
/// string), `input` (a non-empty string, a non-empty array of non-empty
/// strings, one non-empty token array, or a non-empty array of non-empty
/// token arrays), `encoding_format` (`float` | `base64`), `dimensions` (a
/// positive integer), `user` (a string). Other fields are kept.
pub fn parse_request(bytes: &[u8]) -> Result<Map<String, Value>, RequestError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| RequestError::Syntax(e.to_string()))?;
    let Value::Object(body) = value else {
        return Err(invalid("(body)", "must be a JSON object"));
    };
    match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => {}
        Some(Value::String(_)) => return Err(invalid("model", "must not be empty")),
        Some(_) => return Err(invalid("model", "must be a string")),
        None => return Err(invalid("model", "is required")),
    }
    check_input(body.get("input"))?;
    match body.get("encoding_format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "float" || f == "base64" => {}
        Some(_) => {
            return Err(invalid(
                "encoding_format",
                "must be \"float\" or \"base64\"",
            ));
        }
    }
    match body.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(d)
            if d.as_u64()
                .is_some_and(|d| d >= 1 && d <= u64::from(u32::MAX)) => {}
        Some(_) => return Err(invalid("dimensions", "must be a positive integer")),
    }
    if let Some(user) = body.get("user")
        && !(user.is_string() || user.is_null())
    {
        return Err(invalid("user", "must be a string"));
    }
    Ok(body)
}

/// The `input` shapes OpenAI's embeddings API accepts.
fn check_input(input: Option<&Value>) -> Result<(), RequestError> {
    let items = match input {
        None => return Err(invalid("input", "is required")),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(invalid("input", "must not be empty"));
        }
        Some(Value::String(_)) => return Ok(()),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(invalid("input", "must contain at least one input"));
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(invalid(
                "input",
                "must be a string, an array of strings, or an array of token arrays",
            ));
        }
    };
    // One token array: integers throughout.
    if items.first().is_some_and(Value::is_number) {
        return match items.iter().position(|t| !is_token(t)) {
            None => Ok(()),
            Some(i) => Err(invalid(
                format!("input[{i}]"),
                "must be a token id (an integer ≥ 0)",
            )),
        };
    }
    let strings = items.first().is_some_and(Value::is_string);
    for (i, item) in items.iter().enumerate() {
        let ok = match item {
            Value::String(s) if strings => !s.is_empty(),
            Value::Array(tokens) if !strings => !tokens.is_empty() && tokens.iter().all(is_token),
            _ => false,
        };
        if !ok {
            let want = if strings {
                "must be a non-empty string (inputs of one request share one shape)"
            } else {
                "must be a non-empty array of token ids (inputs of one request share one shape)"
            };
            return Err(invalid(format!("input[{i}]"), want));
        }
    }
    Ok(())
}

fn is_token(v: &Value) -> bool {
    v.as_u64().is_some_and(|t| t <= u64::from(u32::MAX))
}

/// The inputs of a validated body, one per vector the answer holds: each
/// string or token array of an array input, or the single input.
pub fn inputs(body: &Map<String, Value>) -> Vec<&Value> {
    match body.get("input") {
        Some(Value::Array(items)) if !items.first().is_some_and(Value::is_number) => {
            items.iter().collect()
        }
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// The OpenAI embeddings body for one batch: the client's body with
/// `model` swapped and, for a batch of a split request, `input` replaced
/// by the batch's inputs.
pub fn openai_body(body: &EmbeddingsBody<'_>, model: &str) -> Vec<u8> {
    let mut out = Map::with_capacity(body.body.len());
    for (k, v) in body.body {
        let v = match (k.as_str(), body.batch) {
            ("model", _) => Value::String(model.to_owned()),
            ("input", Some(run)) => Value::Array(run.iter().map(|v| (*v).clone()).collect()),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    // Serialising a map of JSON values cannot fail.
    serde_json::to_vec(&out).unwrap_or_default()
}

#[cfg(test)]
mod tests;
