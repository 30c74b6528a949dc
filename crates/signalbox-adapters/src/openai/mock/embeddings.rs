//! Owns the OpenAI mock's embeddings (`POST /v1/embeddings`, and Azure's
//! deployment path): the request read by the gateway's own parser, each
//! input answered with its deterministic unit vector in the requested
//! `dimensions` (default [`DEFAULT_DIMENSIONS`]) and `encoding_format`,
//! usage one token per word.

use bytes::Bytes;
use serde_json::Value;

use crate::embeddings::{self, EmbeddingAnswer, Encoding};
use crate::mock::count_words;
use crate::mock::embedding::{DEFAULT_DIMENSIONS, seed_of, unit_vector};

/// The embeddings list answering `body`.
pub(super) fn render(body: &[u8]) -> Result<Bytes, String> {
    let body = embeddings::parse_request(body).map_err(|e| format!("mock: {e}"))?;
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_DIMENSIONS, |d| d as usize);
    let inputs = embeddings::inputs(&body);
    let words: u64 = inputs
        .iter()
        .map(|i| match i {
            Value::String(s) => count_words(s),
            Value::Array(tokens) => tokens.len() as u64,
            _ => 0,
        })
        .sum();
    let vectors = inputs
        .iter()
        .map(|i| Value::from(unit_vector(&seed_of(i), dims)))
        .collect();
    let model = body.get("model").and_then(Value::as_str).unwrap_or("mock");
    let answer = EmbeddingAnswer {
        vectors,
        model: Some(model.to_owned()),
        usage: signalbox_core::Usage {
            prompt_tokens: words.max(1),
            completion_tokens: 0,
        },
    };
    let (out, _) = embeddings::merge(vec![answer], Encoding::of(&body), model);
    Ok(Bytes::from(out))
}
