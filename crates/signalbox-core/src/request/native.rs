//! Owns the client's own body, kept beside the validated OpenAI view for
//! the same-family fast path: an Anthropic-format request bound for an
//! Anthropic route is forwarded as the client wrote it (unknown fields,
//! `cache_control`, `thinking`, documents included), with only the model
//! swapped and the output limit clamped where a route demands it.
//!
//! The native body travels only while the request is untouched: every
//! rewrite ([`ChatRequest::rewritten`], dropping tools, reducing context,
//! clamping) yields a request without it, so a privacy redaction or a
//! prompt variant can never be skipped by forwarding the original. What the
//! OpenAI view could not express (e.g. a `document` block) is remembered
//! across rewrites, so translating such a request fails naming the field.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::ChatRequest;
use crate::canonical::TranslationNote;

/// The wire format a request or an answer is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// OpenAI chat completions (`/v1/chat/completions`).
    #[default]
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// The OpenAI Responses API (`/v1/responses`): a client's format,
    /// translated to providers' chat APIs, or passed through as written to
    /// a route whose provider serves it (`endpoint: [chat, responses]`).
    Responses,
    /// OpenAI's legacy completions (`/v1/completions`): a client's format
    /// only; the prompt is answered by a chat model.
    Completions,
    /// OpenAI embeddings (`/v1/embeddings`): the body is the embeddings
    /// request (`model`, `input`, …), answered by embedding routes in
    /// OpenAI's `list` of `embedding`s ([`ChatRequest::embeddings`]).
    Embeddings,
}

/// The client's verbatim request body in its own wire format.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeBody {
    /// The format the body is written in.
    pub format: WireFormat,
    /// The body as the client sent it.
    pub body: Map<String, Value>,
    /// The client's `anthropic-beta` header, passed on with the body.
    pub beta: Option<String>,
}

/// What an ingress in another format than OpenAI's attaches to the
/// request it validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The client's own body.
    pub native: NativeBody,
    /// Why the OpenAI view is incomplete (a field it could not express,
    /// named by its path), when it is.
    pub untranslatable: Option<String>,
    /// What reading the body into the OpenAI view dropped or changed.
    pub notes: Vec<TranslationNote>,
}

impl ChatRequest {
    /// Attaches the client's own body (and what the OpenAI view lacks).
    pub fn with_origin(mut self, origin: Option<Origin>) -> Self {
        if let Some(o) = origin {
            self.ingress = o.native.format;
            self.native = Some(Arc::new(o.native));
            self.untranslatable = o.untranslatable.map(Arc::from);
            self.ingress_notes = (!o.notes.is_empty()).then(|| Arc::from(o.notes));
        }
        self
    }

    /// The wire format the client wrote the request in, and reads its
    /// answer in (errors included), however the request was rewritten.
    pub fn ingress(&self) -> WireFormat {
        self.ingress
    }

    /// Marks the request as read from `format` (an ingress without a
    /// same-family fast path), with what reading it into the OpenAI view
    /// dropped or changed.
    pub fn with_ingress(mut self, format: WireFormat, notes: Vec<TranslationNote>) -> Self {
        self.ingress = format;
        self.ingress_notes = (!notes.is_empty()).then(|| Arc::from(notes));
        self
    }

    /// What reading the client's body into the OpenAI view dropped or
    /// changed (empty for OpenAI ingress): true of every translated form
    /// of this request, not of its own body passed on as it is.
    pub fn ingress_notes(&self) -> &[TranslationNote] {
        self.ingress_notes.as_deref().unwrap_or_default()
    }

    /// The client's verbatim body, while the request is untouched.
    pub fn native(&self) -> Option<&NativeBody> {
        self.native.as_deref()
    }

    /// Why this request cannot be translated into another format: a field
    /// of the client's body the OpenAI view does not carry.
    pub fn untranslatable(&self) -> Option<&str> {
        self.untranslatable.as_deref()
    }

    /// A rewritten copy: same stream flag and untranslatable note, without
    /// the native body (it no longer says what the request says).
    pub(super) fn derived(&self, body: Map<String, Value>) -> ChatRequest {
        ChatRequest {
            body,
            stream: self.stream,
            native: None,
            untranslatable: self.untranslatable.clone(),
            ingress_notes: self.ingress_notes.clone(),
            ingress: self.ingress,
        }
    }
}

impl NativeBody {
    /// Serialises the body for an upstream of its own format: `model`
    /// replaced, and `max_tokens` lowered to `max_tokens` when given.
    pub fn upstream_json(&self, model: &str, max_tokens: Option<u32>) -> Vec<u8> {
        self.upstream_json_for(model, max_tokens, false)
    }

    /// As [`NativeBody::upstream_json`]; the output limit is the format's
    /// own field (`max_output_tokens` for Responses), and `no_store` (a
    /// zero-retention route) sends a Responses body with `store: false`,
    /// as the chat path does: the Responses API stores by default.
    pub fn upstream_json_for(
        &self,
        model: &str,
        max_tokens: Option<u32>,
        no_store: bool,
    ) -> Vec<u8> {
        let responses = self.format == WireFormat::Responses;
        super::exact_json(&NativeView {
            body: &self.body,
            model,
            max_tokens,
            limit_key: if responses {
                "max_output_tokens"
            } else {
                "max_tokens"
            },
            no_store: no_store && responses,
        })
    }
}

/// Serialises a native body with its model (and output limit) swapped,
/// without cloning the map.
struct NativeView<'a> {
    body: &'a Map<String, Value>,
    model: &'a str,
    max_tokens: Option<u32>,
    /// The format's output limit field.
    limit_key: &'static str,
    /// `store: false` is written (replacing the client's `store`).
    no_store: bool,
}

impl serde::Serialize for NativeView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.body.len() + usize::from(self.no_store)))?;
        for (k, v) in self.body {
            match (k.as_str(), self.max_tokens) {
                ("model", _) => map.serialize_entry(k, self.model)?,
                (key, Some(cap)) if key == self.limit_key => map.serialize_entry(k, &cap)?,
                ("store", _) if self.no_store => {}
                _ => map.serialize_entry(k, v)?,
            }
        }
        if self.no_store {
            map.serialize_entry("store", &false)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn anthropic_req() -> ChatRequest {
        let native = json!({"model": "claude-alias", "max_tokens": 4096, "top_k": 5,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi",
                "cache_control": {"type": "ephemeral"}}]}]});
        let Value::Object(body) = native else {
            unreachable!()
        };
        let view = json!({"model": "claude-alias", "max_tokens": 4096,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}]});
        ChatRequest::parse(view.to_string().as_bytes())
            .unwrap()
            .with_origin(Some(Origin {
                native: NativeBody {
                    format: WireFormat::Anthropic,
                    body,
                    beta: Some("b1".into()),
                },
                untranslatable: Some("messages[0].content[1]: `document`".into()),
                notes: Vec::new(),
            }))
    }

    #[test]
    fn the_native_body_is_forwarded_with_only_the_model_and_the_clamp_changed() {
        let req = anthropic_req();
        let native = req.native().unwrap();
        let out: Value = serde_json::from_slice(&native.upstream_json("claude-up", None)).unwrap();
        let mut want = Value::Object(native.body.clone());
        want["model"] = json!("claude-up");
        assert_eq!(out, want);
        let out: Value =
            serde_json::from_slice(&native.upstream_json("claude-up", Some(100))).unwrap();
        want["max_tokens"] = json!(100);
        assert_eq!(out, want);
    }

    #[test]
    fn a_responses_body_is_clamped_on_its_own_field_and_unstored_on_zero_retention() {
        let Value::Object(body) = json!({"model": "a", "input": "hi", "max_output_tokens": 900,
            "store": true, "max_tokens": 5})
        else {
            unreachable!()
        };
        let native = NativeBody {
            format: WireFormat::Responses,
            body,
            beta: None,
        };
        let out: Value =
            serde_json::from_slice(&native.upstream_json_for("gpt", Some(100), true)).unwrap();
        assert_eq!(
            out,
            json!({"model": "gpt", "input": "hi", "max_output_tokens": 100, "store": false,
                "max_tokens": 5})
        );
        let out: Value = serde_json::from_slice(&native.upstream_json("gpt", None)).unwrap();
        assert_eq!(out["store"], true);
        assert_eq!(out["max_output_tokens"], 900);
    }

    #[test]
    fn every_rewrite_drops_the_native_body_but_keeps_what_cannot_be_translated() {
        let req = anthropic_req();
        assert!(req.native().is_some());
        let rewrites = [
            req.rewritten(|_| Ok::<_, ()>(())).unwrap().0,
            req.without_tools().unwrap(),
            req.clamp_max_tokens(10).unwrap().0,
        ];
        for r in rewrites {
            assert!(r.native().is_none(), "{r:?}");
            assert_eq!(r.untranslatable(), req.untranslatable());
        }
        let long = json!({"model": "m", "messages": [
            {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"}]});
        let long = ChatRequest::parse(long.to_string().as_bytes())
            .unwrap()
            .with_origin(Some(Origin {
                native: req.native().unwrap().clone(),
                untranslatable: None,
                notes: Vec::new(),
            }));
        let reduced = long.reduce_context(|_| true).unwrap();
        assert!(reduced.native().is_none());
    }
}
