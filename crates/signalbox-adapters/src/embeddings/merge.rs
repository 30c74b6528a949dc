//! Owns reading one upstream batch's answer in OpenAI's embeddings shape
//! ([`read_answer`]: its vectors in input order, checked to be exactly one
//! per input) and writing the client's answer from every batch
//! ([`merge`]): vectors numbered across batches in input order, usage
//! summed, each vector in the client's `encoding_format`.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use signalbox_core::Usage;

use super::Encoding;
use crate::error::ResponseError;

/// One batch's vectors, in input order, with what the provider counted.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingAnswer {
    /// One vector per input: an array of numbers, or a base64 string.
    pub vectors: Vec<Value>,
    /// The model the provider says answered, when it says.
    pub model: Option<String>,
    /// Input tokens (providers count no output tokens for embeddings).
    pub usage: Usage,
}

#[derive(Deserialize)]
struct List {
    data: Vec<Item>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<ListUsage>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Value,
}

#[derive(Deserialize)]
struct ListUsage {
    #[serde(default)]
    prompt_tokens: u64,
}

/// Reads an OpenAI-shaped embeddings answer for `expected` inputs: every
/// index from 0 to `expected - 1` exactly once, each vector an array of
/// numbers or a base64 string.
pub fn read_answer(body: &[u8], expected: usize) -> Result<EmbeddingAnswer, ResponseError> {
    let list: List = serde_json::from_slice(body)
        .map_err(|e| ResponseError::new("openai", format!("not an embeddings list: {e}")))?;
    if list.data.len() != expected {
        return Err(ResponseError::new(
            "openai",
            format!("{} vectors for {expected} inputs", list.data.len()),
        ));
    }
    let mut vectors = vec![Value::Null; expected];
    for item in list.data {
        let shape_ok = match &item.embedding {
            Value::Array(v) => v.iter().all(Value::is_number),
            Value::String(_) => true,
            _ => false,
        };
        match vectors.get_mut(item.index) {
            Some(slot @ Value::Null) if shape_ok => *slot = item.embedding,
            _ => {
                return Err(ResponseError::new(
                    "openai",
                    format!(
                        "vector {} is repeated, out of range or not a vector",
                        item.index
                    ),
                ));
            }
        }
    }
    Ok(EmbeddingAnswer {
        vectors,
        model: list.model,
        usage: Usage {
            prompt_tokens: list.usage.map_or(0, |u| u.prompt_tokens),
            completion_tokens: 0,
        },
    })
}

/// Checks that every vector of `part` has `dimensions` numbers (a base64
/// vector: `dimensions` little-endian `f32`s): a route that answers
/// another length is not in the space it declared.
pub fn check_dimensions(part: &EmbeddingAnswer, dimensions: usize) -> Result<(), ResponseError> {
    for (i, v) in part.vectors.iter().enumerate() {
        let len = match v {
            Value::Array(numbers) => numbers.len(),
            // Base64 of 4-byte floats: 4 characters per 3 bytes, padded.
            Value::String(text) => text.trim_end_matches('=').len() * 3 / 4 / 4,
            _ => 0,
        };
        if len != dimensions {
            return Err(ResponseError::new(
                "openai",
                format!("vector {i} has {len} dimensions, the route declares {dimensions}"),
            ));
        }
    }
    Ok(())
}

/// The client's answer from every batch, in order: OpenAI's `list` of
/// `embedding`s numbered across batches, usage summed, vectors written in
/// `encoding` (float vectors are encoded for a base64 client; a base64
/// vector is passed on as the provider wrote it). `model` names the
/// answer when no batch did.
pub fn merge(parts: Vec<EmbeddingAnswer>, encoding: Encoding, model: &str) -> (Vec<u8>, Usage) {
    let mut usage = Usage::default();
    let mut answered_by = None;
    let mut data = Vec::with_capacity(parts.iter().map(|p| p.vectors.len()).sum());
    for part in parts {
        usage.prompt_tokens = usage.prompt_tokens.saturating_add(part.usage.prompt_tokens);
        answered_by = answered_by.or(part.model);
        for vector in part.vectors {
            let index = data.len();
            data.push(json!({
                "object": "embedding",
                "index": index,
                "embedding": encoded(vector, encoding),
            }));
        }
    }
    let body = json!({
        "object": "list",
        "data": data,
        "model": answered_by.as_deref().unwrap_or(model),
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens},
    });
    (serde_json::to_vec(&body).unwrap_or_default(), usage)
}

/// A float vector as base64 of little-endian `f32`s, when the client asked
/// for base64; anything else as it is.
fn encoded(vector: Value, encoding: Encoding) -> Value {
    match (encoding, vector) {
        (Encoding::Base64, Value::Array(numbers)) => {
            let mut bytes = Vec::with_capacity(numbers.len() * 4);
            for n in &numbers {
                // The wire format is f32: the narrowing is the encoding.
                let f = n.as_f64().unwrap_or(0.0) as f32;
                bytes.extend_from_slice(&f.to_le_bytes());
            }
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        (_, v) => v,
    }
}
