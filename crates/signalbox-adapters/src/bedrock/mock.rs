//! Owns the mock provider's side of Bedrock, for embeddings only:
//! `POST /model/{id}/invoke` answered as Amazon Titan Text Embeddings
//! (`amazon.titan-embed-*`: `{inputText, dimensions?}` →
//! `{embedding, inputTextTokenCount}`) or Cohere Embed on Bedrock
//! (`cohere.embed-*`: `{texts, input_type}` → `{embeddings, …}`), with the
//! deterministic vectors every mock gives. The SigV4 signature is not
//! checked (a test reads the headers from `/_mock/stats`). Converse chat
//! is not mocked here (its event-stream frames are tested against an
//! in-test stub, `translation_bedrock.rs`): a chat request is a 404.

use bytes::Bytes;
use http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::mock::embedding::unit_vector;
use crate::mock::{Answer, MockRequest, MockWire, Parsed, count_words};

/// Titan v2's vector length when the body names none.
const TITAN_DIMENSIONS: usize = 1024;
/// Cohere Embed v3's vector length.
const COHERE_DIMENSIONS: usize = 1024;
/// Cohere Embed's most texts per call.
const COHERE_MAX_TEXTS: usize = 96;

/// The Bedrock runtime (embeddings).
#[derive(Debug)]
pub struct Bedrock;

impl MockWire for Bedrock {
    fn chat_paths(&self) -> &'static [&'static str] {
        &[]
    }

    fn embeddings_paths(&self) -> &'static [&'static str] {
        &["/model/{id}/invoke"]
    }

    fn is_embeddings(&self, uri: &Uri) -> bool {
        uri.path().ends_with("/invoke")
    }

    fn render_embeddings(&self, uri: &Uri, body: &[u8]) -> Result<Bytes, String> {
        let model = model_of(uri);
        let answer = if model.contains("titan-embed") {
            titan(body)?
        } else if model.contains("cohere.embed") {
            cohere(body)?
        } else {
            return Err(format!("mock: {model} is not a Bedrock embedding model"));
        };
        Ok(Bytes::from(answer.to_string()))
    }

    fn parse(&self, _body: &[u8]) -> Result<Parsed<MockRequest>, String> {
        Err("mock: Bedrock Converse is not mocked (embeddings only)".to_owned())
    }

    /// Bedrock's error body; the class is in `x-amzn-ErrorType`, which the
    /// status stands in for here.
    fn error_body(&self, _status: StatusCode, message: &str) -> Bytes {
        Bytes::from(json!({ "message": message }).to_string())
    }

    fn render_body(&self, _: &MockRequest, _: &Answer, _: u64) -> serde_json::Result<Bytes> {
        Ok(Bytes::new())
    }

    fn render_events(
        &self,
        _: &MockRequest,
        _: &Answer,
        _: u64,
        _: u32,
    ) -> serde_json::Result<Vec<Bytes>> {
        Ok(Vec::new())
    }

    fn malformed_body(&self) -> Bytes {
        Bytes::from_static(br#"{"embedding": [0.1, "#)
    }

    fn malformed_events(&self) -> Vec<Bytes> {
        Vec::new()
    }
}

/// The model id of `/model/{id}/invoke`, percent-decoded (`%3A` → `:`).
fn model_of(uri: &Uri) -> String {
    let segment = uri
        .path()
        .strip_prefix("/model/")
        .and_then(|rest| rest.strip_suffix("/invoke"))
        .unwrap_or_default();
    let mut out = Vec::with_capacity(segment.len());
    let bytes = segment.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Titan: one text, an optional length; the vector and the text's tokens.
fn titan(body: &[u8]) -> Result<Value, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Request {
        input_text: String,
        #[serde(default)]
        dimensions: Option<usize>,
        #[serde(default)]
        normalize: Option<bool>,
    }
    let req: Request =
        serde_json::from_slice(body).map_err(|e| format!("mock: invalid Titan body: {e}"))?;
    let _ = req.normalize;
    let dims = req.dimensions.unwrap_or(TITAN_DIMENSIONS);
    Ok(json!({
        "embedding": unit_vector(&req.input_text, dims),
        "inputTextTokenCount": count_words(&req.input_text).max(1),
    }))
}

/// Cohere Embed: up to 96 texts; one vector each, in order, no usage.
fn cohere(body: &[u8]) -> Result<Value, String> {
    #[derive(Deserialize)]
    struct Request {
        texts: Vec<String>,
        input_type: String,
    }
    let req: Request = serde_json::from_slice(body)
        .map_err(|e| format!("mock: invalid Cohere Embed body: {e}"))?;
    if req.texts.is_empty() || req.texts.len() > COHERE_MAX_TEXTS {
        return Err(format!(
            "mock: `texts` must hold 1 to {COHERE_MAX_TEXTS} texts, not {}",
            req.texts.len()
        ));
    }
    let vectors: Vec<Vec<f32>> = req
        .texts
        .iter()
        .map(|t| unit_vector(t, COHERE_DIMENSIONS))
        .collect();
    Ok(json!({
        "id": "mock-embed",
        "embeddings": vectors,
        "texts": req.texts,
        "input_type": req.input_type,
        "response_type": "embeddings_floats",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titan_and_cohere_bodies_get_their_answers() {
        let uri: Uri = "/model/amazon.titan-embed-text-v2%3A0/invoke"
            .parse()
            .unwrap();
        assert_eq!(model_of(&uri), "amazon.titan-embed-text-v2:0");
        let out = Bedrock
            .render_embeddings(&uri, br#"{"inputText":"a b","dimensions":8}"#)
            .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["embedding"].as_array().map(Vec::len), Some(8));
        assert_eq!(v["inputTextTokenCount"], 2);
        let answer = crate::embeddings::bedrock::read_answer(&out, 1).unwrap();
        assert_eq!(answer.usage.prompt_tokens, 2);

        let uri: Uri = "/model/cohere.embed-english-v3/invoke".parse().unwrap();
        let body = br#"{"texts":["x","y"],"input_type":"search_query"}"#;
        let out = Bedrock.render_embeddings(&uri, body).unwrap();
        assert_eq!(
            crate::embeddings::bedrock::read_answer(&out, 2)
                .unwrap()
                .vectors
                .len(),
            2
        );
        assert!(Bedrock.render_embeddings(&uri, br#"{"texts":[]}"#).is_err());
        let other: Uri = "/model/meta.llama3/invoke".parse().unwrap();
        assert!(Bedrock.render_embeddings(&other, b"{}").is_err());
    }
}
