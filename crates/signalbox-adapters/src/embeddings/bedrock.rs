//! Owns Bedrock's embedding models, reached by `InvokeModel`
//! (`POST {endpoint}/model/{id}/invoke`, SigV4-signed), translated to and
//! from OpenAI's wire. The model id picks the body:
//!
//! - Amazon Titan Text Embeddings (`amazon.titan-embed-*`): one text per
//!   call (`inputText`, `dimensions` when asked); a batch of more inputs
//!   cannot be carried, so a Titan route declares `max-batch: 1`. Its
//!   answer's `embedding` is one vector, `inputTextTokenCount` the usage.
//! - Cohere Embed (`cohere.embed-*`): `texts` (96 at most per call: the
//!   route's `max-batch`), `input_type` from the client's body when given
//!   (else `search_document`); its answer's `embeddings` are the vectors,
//!   in order, with no token usage.
//!
//! Both take text only: token-array inputs cannot be carried.

use std::time::SystemTime;

use serde::Deserialize;
use serde_json::{Value, json};
use signalbox_core::Usage;

use super::{EmbeddingAnswer, inputs};
use crate::adapter::EmbeddingsBody;
use crate::bedrock::{BedrockAdapter, SERVICE, sign_request};
use crate::error::{ResponseError, TranslateError};
use crate::route::{RouteSettings, UpstreamRequest, encode_segment, join_url, to_body};

const TARGET: &str = "bedrock";

impl BedrockAdapter {
    /// Renders and signs one embeddings batch at `now`.
    pub fn render_embeddings(
        &self,
        body: &EmbeddingsBody<'_>,
        route: &RouteSettings,
        now: SystemTime,
    ) -> Result<UpstreamRequest, TranslateError> {
        let all;
        let batch = match body.batch {
            Some(b) => b,
            None => {
                all = inputs(body.body);
                &all[..]
            }
        };
        let texts = texts(batch)?;
        let model = route.upstream_model.as_str();
        let json = if model.contains("titan-embed") {
            let [text] = texts[..] else {
                return Err(TranslateError::unsupported(
                    TARGET,
                    "input",
                    "Titan embeds one text per call: declare `max-batch: 1` on the route",
                ));
            };
            let mut out = json!({ "inputText": text });
            if let Some(d) = body.body.get("dimensions") {
                out["dimensions"] = d.clone();
            }
            out
        } else if model.contains("cohere.embed") {
            let input_type = body
                .body
                .get("input_type")
                .cloned()
                .unwrap_or_else(|| json!("search_document"));
            json!({ "texts": texts, "input_type": input_type })
        } else {
            return Err(TranslateError::unsupported(
                TARGET,
                "model",
                format!(
                    "{model} is not a Bedrock embedding model Signalbox speaks (Titan, Cohere Embed)"
                ),
            ));
        };
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://bedrock-runtime.{}.amazonaws.com", self.region));
        let path = format!("model/{}/invoke", encode_segment(model));
        let mut request =
            UpstreamRequest::post_json(join_url(&endpoint, &path), to_body(&json)?, false);
        sign_request(&mut request, &self.credentials, &self.region, SERVICE, now)?;
        Ok(request)
    }
}

/// The batch's inputs as texts; a token array cannot be carried.
fn texts<'a>(batch: &[&'a Value]) -> Result<Vec<&'a str>, TranslateError> {
    batch
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().ok_or_else(|| {
                TranslateError::unsupported(
                    TARGET,
                    format!("input[{i}]"),
                    "Bedrock's embedding models take text, not token arrays",
                )
            })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    /// Titan: the one vector.
    #[serde(default)]
    embedding: Option<Vec<Value>>,
    #[serde(default)]
    input_text_token_count: Option<u64>,
    /// Cohere: the vectors, in order.
    #[serde(default)]
    embeddings: Option<Vec<Vec<Value>>>,
}

/// Reads a Titan or Cohere Embed answer for `expected` inputs.
pub fn read_answer(body: &[u8], expected: usize) -> Result<EmbeddingAnswer, ResponseError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| ResponseError::new(TARGET, format!("not an embeddings answer: {e}")))?;
    let (vectors, tokens) = match answer {
        Answer {
            embedding: Some(v),
            input_text_token_count,
            ..
        } => (vec![v], input_text_token_count.unwrap_or(0)),
        Answer {
            embeddings: Some(vs),
            ..
        } => (vs, 0),
        _ => {
            return Err(ResponseError::new(
                TARGET,
                "neither `embedding` nor `embeddings`",
            ));
        }
    };
    if vectors.len() != expected {
        return Err(ResponseError::new(
            TARGET,
            format!("{} vectors for {expected} inputs", vectors.len()),
        ));
    }
    if vectors.iter().any(|v| !v.iter().all(Value::is_number)) {
        return Err(ResponseError::new(TARGET, "a vector holds a non-number"));
    }
    Ok(EmbeddingAnswer {
        vectors: vectors.into_iter().map(Value::Array).collect(),
        model: None,
        usage: Usage {
            prompt_tokens: tokens,
            completion_tokens: 0,
        },
    })
}
