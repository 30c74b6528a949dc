//! Owns the Cohere mock's embeddings (`POST /v2/embed`): each text answered
//! with its deterministic unit vector in `output_dimension` dimensions
//! (default [`DEFAULT_DIMENSIONS`]) under `embeddings.float`, billed one
//! input token per word.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::mock::count_words;
use crate::mock::embedding::{DEFAULT_DIMENSIONS, unit_vector};

#[derive(Deserialize)]
struct Request {
    texts: Vec<String>,
    #[serde(default)]
    output_dimension: Option<usize>,
}

/// The `/v2/embed` answer to `body`.
pub(super) fn render(body: &[u8]) -> Result<Bytes, String> {
    let req: Request =
        serde_json::from_slice(body).map_err(|e| format!("invalid embed request: {e}"))?;
    let dims = req.output_dimension.unwrap_or(DEFAULT_DIMENSIONS);
    let vectors: Vec<Vec<f32>> = req.texts.iter().map(|t| unit_vector(t, dims)).collect();
    let tokens: u64 = req.texts.iter().map(|t| count_words(t)).sum();
    serde_json::to_vec(&json!({
        "id": "mock-embed",
        "embeddings": {"float": vectors},
        "texts": req.texts,
        "meta": {"billed_units": {"input_tokens": tokens}},
    }))
    .map(Bytes::from)
    .map_err(|e| e.to_string())
}
