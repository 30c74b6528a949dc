//! Owns Gemini's embeddings API (`batchEmbedContents`), translated to and
//! from OpenAI's wire: each text input becomes one `EmbedContentRequest`
//! (`content.parts[0].text`, `outputDimensionality` from `dimensions`),
//! each `embeddings[i].values` one vector, in order. Gemini takes text
//! only, so token-array inputs cannot be carried (another route may);
//! it reports no token usage, so the answer's usage is 0 and the
//! gateway's own estimate is what budgets and limits counted.

use serde::Deserialize;
use serde_json::{Value, json};
use signalbox_core::Usage;

use super::{EmbeddingAnswer, inputs};
use crate::adapter::EmbeddingsBody;
use crate::error::{ResponseError, TranslateError};
use crate::gemini::GeminiAdapter;
use crate::route::{RouteSettings, UpstreamRequest, encode_segment, join_url, to_body};

impl GeminiAdapter {
    /// Renders one embeddings batch: `POST {base}/{version}/models/
    /// {model}:batchEmbedContents`.
    pub fn render_embeddings(
        &self,
        body: &EmbeddingsBody<'_>,
        route: &RouteSettings,
    ) -> Result<UpstreamRequest, TranslateError> {
        let model = encode_segment(&route.upstream_model);
        let all;
        let batch = match body.batch {
            Some(b) => b,
            None => {
                all = inputs(body.body);
                &all[..]
            }
        };
        let dimensions = body.body.get("dimensions").and_then(Value::as_u64);
        let mut requests = Vec::with_capacity(batch.len());
        for (i, input) in batch.iter().enumerate() {
            let Value::String(text) = input else {
                return Err(TranslateError::Unsupported {
                    target: "gemini",
                    field: format!("input[{i}]"),
                    reason: "Gemini embeds text only, not token arrays".into(),
                });
            };
            let mut request = json!({
                "model": format!("models/{}", route.upstream_model),
                "content": {"parts": [{"text": text}]},
            });
            if let Some(d) = dimensions {
                request["outputDimensionality"] = json!(d);
            }
            requests.push(request);
        }
        let path = format!(
            "{}/models/{model}:batchEmbedContents",
            self.api_version.trim_matches('/')
        );
        let mut request = UpstreamRequest::post_json(
            join_url(&self.base_url, &path),
            to_body(&json!({ "requests": requests }))?,
            false,
        );
        if let Some(key) = &self.api_key {
            request.secret_header("x-goog-api-key", key.expose())?;
        }
        Ok(request)
    }
}

#[derive(Deserialize)]
struct Batch {
    embeddings: Vec<Embedding>,
}

#[derive(Deserialize)]
struct Embedding {
    values: Vec<Value>,
}

/// Reads a `batchEmbedContents` answer for `expected` inputs.
pub fn read_answer(body: &[u8], expected: usize) -> Result<EmbeddingAnswer, ResponseError> {
    let batch: Batch = serde_json::from_slice(body).map_err(|e| {
        ResponseError::new("gemini", format!("not a batchEmbedContents answer: {e}"))
    })?;
    if batch.embeddings.len() != expected {
        return Err(ResponseError::new(
            "gemini",
            format!("{} vectors for {expected} inputs", batch.embeddings.len()),
        ));
    }
    let mut vectors = Vec::with_capacity(expected);
    for e in batch.embeddings {
        if !e.values.iter().all(Value::is_number) {
            return Err(ResponseError::new("gemini", "a vector holds a non-number"));
        }
        vectors.push(Value::Array(e.values));
    }
    Ok(EmbeddingAnswer {
        vectors,
        model: None,
        usage: Usage::default(),
    })
}
