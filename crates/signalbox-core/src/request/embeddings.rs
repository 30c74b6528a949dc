//! Owns the embeddings request as the pipeline carries it: the OpenAI
//! embeddings body (`model`, `input`, `encoding_format`, `dimensions`,
//! `user`), validated at ingress by `signalbox-adapters`' embeddings
//! parser, held in the same [`ChatRequest`] shell as chat so that every
//! stage (signals, policy, privacy, failover, idempotency, records) runs
//! unchanged; its [`WireFormat::Embeddings`] ingress is what tells the
//! stages that differ (token estimate, endpoint constraint, privacy walk,
//! provider rendering, the edge) which request they hold.

use serde_json::{Map, Value};

use super::{ChatRequest, RequestError, WireFormat};
use crate::canonical::TranslationNote;

impl ChatRequest {
    /// An embeddings request, from a body the embeddings parser already
    /// validated (`model` a non-empty string, `input` present). Never a
    /// stream.
    pub fn embeddings(
        body: Map<String, Value>,
        notes: Vec<TranslationNote>,
    ) -> Result<Self, RequestError> {
        match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => {}
            _ => {
                return Err(RequestError::invalid(
                    "model",
                    "is required (a non-empty string)",
                ));
            }
        }
        if !body.contains_key("input") {
            return Err(RequestError::invalid("input", "is required"));
        }
        Ok(Self {
            body,
            stream: false,
            native: None,
            untranslatable: None,
            ingress_notes: None,
            ingress: WireFormat::Embeddings,
        }
        .with_ingress(WireFormat::Embeddings, notes))
    }

    /// Whether this is an embeddings request (not a chat one).
    pub fn is_embeddings(&self) -> bool {
        self.ingress == WireFormat::Embeddings
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn an_embeddings_request_keeps_its_body_and_is_never_a_stream() {
        let req = ChatRequest::embeddings(body(json!({"model": "e", "input": ["a"]})), Vec::new());
        let Ok(req) = req else {
            panic!("refused: {req:?}");
        };
        assert!(req.is_embeddings());
        assert!(!req.is_stream());
        assert_eq!(req.model(), "e");
        let out: Value = serde_json::from_slice(&req.to_upstream_json("up")).unwrap_or_default();
        assert_eq!(out, json!({"model": "up", "input": ["a"]}));
    }

    #[test]
    fn model_and_input_are_required() {
        let no_model = ChatRequest::embeddings(body(json!({"input": "a"})), Vec::new());
        assert_eq!(
            no_model.err().and_then(|e| e.param().map(str::to_owned)),
            Some("model".into())
        );
        let no_input = ChatRequest::embeddings(body(json!({"model": "e"})), Vec::new());
        assert_eq!(
            no_input.err().and_then(|e| e.param().map(str::to_owned)),
            Some("input".into())
        );
    }
}
