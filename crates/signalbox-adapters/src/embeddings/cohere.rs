//! Owns Cohere's embeddings API (`POST {base}/v2/embed`), translated to and
//! from OpenAI's wire: the inputs become `texts` (96 at most per call: the
//! route's `max-batch`), `input_type` is the client's (else
//! `search_document`, which Cohere requires), `embedding_types: ["float"]`,
//! and `output_dimension` comes from `dimensions`. The answer's
//! `embeddings.float` are the vectors in order, `meta.billed_units.
//! input_tokens` the usage. Cohere takes text only: token-array inputs
//! cannot be carried.

use serde::Deserialize;
use serde_json::{Value, json};
use signalbox_core::Usage;

use super::{EmbeddingAnswer, inputs};
use crate::adapter::EmbeddingsBody;
use crate::cohere::CohereAdapter;
use crate::error::{ResponseError, TranslateError};
use crate::route::{RouteSettings, UpstreamRequest, join_url, to_body};

const TARGET: &str = "cohere";

impl CohereAdapter {
    /// Renders one embeddings batch: `POST {base_url}/v2/embed`.
    pub fn render_embeddings(
        &self,
        body: &EmbeddingsBody<'_>,
        route: &RouteSettings,
    ) -> Result<UpstreamRequest, TranslateError> {
        let all;
        let batch = match body.batch {
            Some(b) => b,
            None => {
                all = inputs(body.body);
                &all[..]
            }
        };
        let mut texts = Vec::with_capacity(batch.len());
        for (i, input) in batch.iter().enumerate() {
            let Value::String(text) = input else {
                return Err(TranslateError::unsupported(
                    TARGET,
                    format!("input[{i}]"),
                    "Cohere embeds text only, not token arrays",
                ));
            };
            texts.push(text);
        }
        let input_type = body
            .body
            .get("input_type")
            .cloned()
            .unwrap_or_else(|| json!("search_document"));
        let mut out = json!({
            "model": route.upstream_model,
            "texts": texts,
            "input_type": input_type,
            "embedding_types": ["float"],
        });
        if let Some(d) = body.body.get("dimensions") {
            out["output_dimension"] = d.clone();
        }
        let mut request =
            UpstreamRequest::post_json(join_url(&self.base_url, "v2/embed"), to_body(&out)?, false);
        if let Some(key) = &self.api_key {
            request.secret_header("authorization", &format!("Bearer {}", key.expose()))?;
        }
        Ok(request)
    }
}

#[derive(Deserialize)]
struct Answer {
    embeddings: Floats,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Floats {
    float: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    billed_units: Option<Billed>,
}

#[derive(Deserialize)]
struct Billed {
    #[serde(default)]
    input_tokens: Option<u64>,
}

/// Reads a `/v2/embed` answer for `expected` inputs.
pub fn read_answer(body: &[u8], expected: usize) -> Result<EmbeddingAnswer, ResponseError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| ResponseError::new(TARGET, format!("not an embed answer: {e}")))?;
    let vectors = answer.embeddings.float;
    if vectors.len() != expected {
        return Err(ResponseError::new(
            TARGET,
            format!("{} vectors for {expected} inputs", vectors.len()),
        ));
    }
    if vectors.iter().any(|v| !v.iter().all(Value::is_number)) {
        return Err(ResponseError::new(TARGET, "a vector holds a non-number"));
    }
    let tokens = answer
        .meta
        .and_then(|m| m.billed_units)
        .and_then(|b| b.input_tokens)
        .unwrap_or(0);
    Ok(EmbeddingAnswer {
        vectors: vectors.into_iter().map(Value::Array).collect(),
        model: None,
        usage: Usage {
            prompt_tokens: tokens,
            completion_tokens: 0,
        },
    })
}
