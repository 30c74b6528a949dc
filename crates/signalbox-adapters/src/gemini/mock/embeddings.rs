//! Owns the Gemini mock's embeddings (`models/{model}:batchEmbedContents`):
//! each request's text answered with its deterministic unit vector in
//! `outputDimensionality` dimensions (default [`DEFAULT_DIMENSIONS`]).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::mock::embedding::{DEFAULT_DIMENSIONS, unit_vector};

#[derive(Deserialize)]
struct Batch {
    requests: Vec<Request>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    content: Content,
    #[serde(default)]
    output_dimensionality: Option<usize>,
}

#[derive(Deserialize)]
struct Content {
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: String,
}

/// The `batchEmbedContents` answer to `body`.
pub(super) fn render(body: &[u8]) -> Result<Bytes, String> {
    let batch: Batch = serde_json::from_slice(body)
        .map_err(|e| format!("invalid batchEmbedContents request: {e}"))?;
    let embeddings: Vec<_> = batch
        .requests
        .iter()
        .map(|r| {
            let text: String = r.content.parts.iter().map(|p| p.text.as_str()).collect();
            let dims = r.output_dimensionality.unwrap_or(DEFAULT_DIMENSIONS);
            json!({"values": unit_vector(&text, dims)})
        })
        .collect();
    serde_json::to_vec(&json!({ "embeddings": embeddings }))
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}
