//! The chat request as the gateway holds it between ingress and the provider
//! adapters.
//!
//! This is the OpenAI chat-completions body, validated once at ingress and
//! otherwise kept as a JSON object so that fields the gateway does not
//! interpret (sampling parameters, provider extensions) pass through intact.
//! Native providers are reached through the typed canonical model of
//! `signalbox-adapters`, parsed from this body per route (see
//! docs/architecture.md, "The request body stays JSON inside the gateway").

use std::sync::Arc;

use serde_json::{Map, Value};
use thiserror::Error;

/// Roles a chat message may carry.
const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Why a request body was refused. The message names the offending field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    /// The body is not JSON at all (syntax error with line and column).
    #[error("request body is not valid JSON: {0}")]
    Syntax(String),
    /// The JSON is well formed but a field is missing or has the wrong shape.
    #[error("{field}: {problem}")]
    Invalid {
        /// Path of the field, e.g. `messages[2].role`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl RequestError {
    fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The offending field's path, for the error's `param`.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::Syntax(_) => None,
            Self::Invalid { field, .. } => Some(field),
        }
    }
}

/// A validated OpenAI-format chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    body: Map<String, Value>,
    stream: bool,
    /// The client's own body in another wire format, while untouched
    /// ([`native`]); `None` for OpenAI ingress, whose body is `body`.
    native: Option<Arc<NativeBody>>,
    /// What the OpenAI view could not express, kept across rewrites.
    untranslatable: Option<Arc<str>>,
    /// What reading the client's body into the OpenAI view dropped or
    /// changed (another ingress format), kept across rewrites: recorded
    /// whenever the request is translated rather than passed on.
    ingress_notes: Option<Arc<[crate::canonical::TranslationNote]>>,
    /// The format the client wrote the request in (and reads the answer
    /// in), kept across rewrites.
    ingress: WireFormat,
}

impl ChatRequest {
    /// Parses and validates a request body.
    pub fn parse(bytes: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| RequestError::Syntax(e.to_string()))?;
        let Value::Object(body) = value else {
            return Err(RequestError::invalid("(body)", "must be a JSON object"));
        };
        Self::from_object(body)
    }

    /// Validates an already-parsed JSON object.
    pub fn from_object(body: Map<String, Value>) -> Result<Self, RequestError> {
        match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => {}
            Some(Value::String(_)) => {
                return Err(RequestError::invalid("model", "must not be empty"));
            }
            Some(_) => return Err(RequestError::invalid("model", "must be a string")),
            None => return Err(RequestError::invalid("model", "is required")),
        }
        validate_messages(body.get("messages"))?;
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(RequestError::invalid("stream", "must be a boolean")),
        };
        if let Some(v) = body.get("max_tokens")
            && !(v.is_null() || v.as_u64().is_some())
        {
            return Err(RequestError::invalid(
                "max_tokens",
                "must be a non-negative integer",
            ));
        }
        Ok(Self {
            body,
            stream,
            native: None,
            untranslatable: None,
            ingress_notes: None,
            ingress: WireFormat::OpenAi,
        })
    }

    /// The model name the caller asked for (an alias).
    pub fn model(&self) -> &str {
        self.body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Whether the caller asked for a server-sent-event stream.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// Whether a streamed answer should end with a usage chunk
    /// (`stream_options.include_usage`; an OpenAI client's choice).
    pub fn wants_stream_usage(&self) -> bool {
        self.body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The raw JSON object, for adapters and later signal extraction.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }

    /// Serialises the body for an upstream, with the model replaced by the
    /// route's upstream model name.
    pub fn to_upstream_json(&self, upstream_model: &str) -> Vec<u8> {
        self.upstream_json(upstream_model, false)
    }

    /// Like [`Self::to_upstream_json`]; with `no_store`, the body also says
    /// `"store": false` (whatever the caller sent), for routes that promise
    /// zero retention.
    pub fn upstream_json(&self, upstream_model: &str, no_store: bool) -> Vec<u8> {
        exact_json(&UpstreamView {
            req: self,
            model: upstream_model,
            no_store,
        })
    }
}

/// Above this, a serving thread's scratch buffer is released after use, so
/// one huge body does not stay allocated per thread.
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    /// The buffer `upstream_json` writes into before copying out.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `view` as JSON in a `Vec` of its exact size. An upstream body lives as
/// long as its request (a failover sends it again), and growing a `Vec` by
/// doubling left up to half of it unused: about 1.8 KB per 2 KB streaming
/// request held open. So it is written into a per-thread scratch buffer and
/// copied out.
pub(crate) fn exact_json(view: &impl serde::Serialize) -> Vec<u8> {
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        // Writing a map of plain JSON values into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *scratch, view);
        if scratch.capacity() <= SCRATCH_KEPT {
            return scratch.to_vec();
        }
        // A large body leaves with the buffer itself, trimmed (for large
        // sizes the allocator shrinks in place), rather than copied.
        let mut out = std::mem::take(scratch);
        out.shrink_to_fit();
        out
    })
}

/// Serialises the request body with `model` swapped, without cloning the map.
struct UpstreamView<'a> {
    req: &'a ChatRequest,
    model: &'a str,
    no_store: bool,
}

impl serde::Serialize for UpstreamView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in &self.req.body {
            if k == "model" {
                map.serialize_entry(k, self.model)?;
            } else if !(self.no_store && k == "store") {
                map.serialize_entry(k, v)?;
            }
        }
        if self.no_store {
            map.serialize_entry("store", &false)?;
        }
        map.end()
    }
}

fn validate_messages(messages: Option<&Value>) -> Result<(), RequestError> {
    let Some(messages) = messages else {
        return Err(RequestError::invalid("messages", "is required"));
    };
    let Value::Array(list) = messages else {
        return Err(RequestError::invalid(
            "messages",
            "must be an array of message objects",
        ));
    };
    if list.is_empty() {
        return Err(RequestError::invalid(
            "messages",
            "must contain at least one message",
        ));
    }
    for (i, m) in list.iter().enumerate() {
        let Value::Object(msg) = m else {
            return Err(RequestError::invalid(
                format!("messages[{i}]"),
                "must be an object",
            ));
        };
        match msg.get("role") {
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => {}
            Some(Value::String(r)) => {
                return Err(RequestError::invalid(
                    format!("messages[{i}].role"),
                    format!("unknown role {r:?} (expected one of: {})", ROLES.join(", ")),
                ));
            }
            Some(_) => {
                return Err(RequestError::invalid(
                    format!("messages[{i}].role"),
                    "must be a string",
                ));
            }
            None => {
                return Err(RequestError::invalid(
                    format!("messages[{i}].role"),
                    "is required",
                ));
            }
        }
        match msg.get("content") {
            None | Some(Value::Null | Value::String(_) | Value::Array(_)) => {}
            Some(_) => {
                return Err(RequestError::invalid(
                    format!("messages[{i}].content"),
                    "must be a string, an array of content parts, or null",
                ));
            }
        }
    }
    Ok(())
}

mod clamp;
mod degrade;
mod embeddings;
mod native;

pub use clamp::OutputClamp;
pub use native::{NativeBody, Origin, WireFormat};

#[cfg(test)]
mod tests;
