//! Owns checking an answer against the response schema the request asked
//! for (`response_format: json_schema`), whatever the provider: one that
//! enforces schemas natively, one reached through a forced tool
//! (`signalbox_adapters::structured`), or one that only follows the
//! instruction. A whole answer whose text does not parse as JSON or does
//! not match the schema is a bad answer ([`OutcomeClass::BadResponse`]):
//! the attempt fails and the next eligible route is tried, so an invalid
//! answer never reaches the caller as a success. A refusal (the answer's
//! `refusal` field) and a tool call (the schema constrains the text answer
//! that follows the tool's result) pass unchecked. A stream is read whole and checked
//! the same way before any of it is released (`structured/stream.rs`).
//! An answer passed on as the provider wrote it is checked too: a
//! Responses answer (a route serving `/v1/responses`, `text.format`) and
//! an Anthropic one (an Anthropic client's body to an Anthropic route,
//! `output_config.format`), its text read from its message (or its
//! stream's text deltas); the schema is the one in the request's OpenAI
//! view, where each ingress reads it.

mod stream;

pub use stream::check_stream;

use std::sync::Arc;

use jsonschema::Validator;
use serde::Deserialize;
use serde_json::Value;
use signalbox_core::{ChatRequest, OutcomeClass, WireFormat};

use crate::{ChatJson, PrepareError, UpstreamError};

/// The request's response schema, compiled once per route it is prepared
/// for; `None` when it asks for none. A schema that does not compile
/// cannot be honoured by any route.
pub(crate) fn validator(req: &ChatRequest) -> Result<Option<Arc<Validator>>, PrepareError> {
    let Some(schema) = req
        .body()
        .get("response_format")
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
        .and_then(|f| f.pointer("/json_schema/schema"))
    else {
        return Ok(None);
    };
    // Named as the client wrote it.
    let field = match req.ingress() {
        WireFormat::Responses => "text.format.schema",
        WireFormat::Anthropic => "output_config.format.schema",
        WireFormat::OpenAi | WireFormat::Completions | WireFormat::Embeddings => {
            "response_format.json_schema.schema"
        }
    };
    jsonschema::validator_for(schema)
        .map(|v| Some(Arc::new(v)))
        .map_err(|e| PrepareError(format!("{field} is not a valid JSON Schema: {e}")))
}

/// Checks a whole answer against `schema`: an OpenAI-shaped answer's
/// first choice, or an answer passed on as written (a Response object, an
/// Anthropic message).
pub fn check_answer(schema: &Validator, json: &ChatJson) -> Result<(), UpstreamError> {
    use signalbox_adapters::structured::text;
    match json.format {
        WireFormat::OpenAi => check_completion(schema, json),
        WireFormat::Responses => check_passed_on(schema, text::responses_output(&json.body)),
        WireFormat::Anthropic => check_passed_on(schema, text::anthropic_output(&json.body)),
        // Clients' formats, never an answer's.
        WireFormat::Completions | WireFormat::Embeddings => Ok(()),
    }
}

/// An answer passed on as written, its text read, against `schema`.
fn check_passed_on(
    schema: &Validator,
    said: Result<signalbox_adapters::structured::text::AnswerText, String>,
) -> Result<(), UpstreamError> {
    let said = said.map_err(|e| bad(&format!("the answer cannot be read: {e}")))?;
    if said.refused || said.called_tool {
        return Ok(());
    }
    if !said.has_message {
        return Err(bad(
            "the answer has no message to check against the response schema",
        ));
    }
    check_text(schema, &said.text, "answer")
}

/// A chat completion's first choice against `schema`.
fn check_completion(schema: &Validator, json: &ChatJson) -> Result<(), UpstreamError> {
    #[derive(Deserialize)]
    struct Completion {
        #[serde(default)]
        choices: Vec<Choice>,
    }
    #[derive(Deserialize)]
    struct Choice {
        message: Option<Message>,
    }
    #[derive(Deserialize)]
    struct Message {
        content: Option<String>,
        refusal: Option<String>,
        #[serde(default)]
        tool_calls: Option<Vec<serde::de::IgnoredAny>>,
    }
    let message = serde_json::from_slice::<Completion>(&json.body)
        .ok()
        .and_then(|c| c.choices.into_iter().next())
        .and_then(|c| c.message);
    let Some(message) = message else {
        return Err(bad(
            "the answer has no message to check against the response schema",
        ));
    };
    // The schema constrains a text answer: a refusal or a tool call (the
    // caller runs it and asks again) is passed on unchecked.
    let called_tool = message.tool_calls.is_some_and(|c| !c.is_empty());
    if message.refusal.is_some() || called_tool {
        return Ok(());
    }
    check_text(schema, &message.content.unwrap_or_default(), "answer")
}

/// Checks an answer's whole text against `schema`; `what` names it in the
/// failure (`answer`, `streamed answer`).
fn check_text(schema: &Validator, text: &str, what: &str) -> Result<(), UpstreamError> {
    let instance: Value = serde_json::from_str(text).map_err(|e| {
        bad(&format!(
            "the {what} is not JSON as its response schema requires: {e}"
        ))
    })?;
    schema.validate(&instance).map_err(|e| {
        bad(&format!(
            "the {what} does not match its response schema at `{}`: {e}",
            e.instance_path()
        ))
    })
}

fn bad(detail: &str) -> UpstreamError {
    UpstreamError::new(
        OutcomeClass::BadResponse,
        crate::classify::truncate(detail, 300),
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    fn answer(content: &str) -> ChatJson {
        let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]});
        ChatJson {
            body: Bytes::from(body.to_string()),
            usage: None,
            format: WireFormat::OpenAi,
            model: crate::AnswerModel::Unknown,
        }
    }

    fn schema() -> Validator {
        let schema =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        jsonschema::validator_for(&schema).unwrap()
    }

    #[test]
    fn an_answer_matching_its_schema_passes_and_one_that_does_not_is_a_bad_answer() {
        assert!(check_answer(&schema(), &answer(r#"{"n": 3}"#)).is_ok());
        for (content, says) in [
            (r#"{"n": "three"}"#, "at `/n`"),
            (r#"{"m": 1}"#, "does not match"),
            ("Sure! here is your JSON", "not JSON"),
        ] {
            let err = check_answer(&schema(), &answer(content)).unwrap_err();
            assert_eq!(err.class, OutcomeClass::BadResponse);
            assert!(err.detail.contains(says), "{content}: {}", err.detail);
        }
    }

    #[test]
    fn a_tool_call_is_not_an_answer_to_check() {
        let body = json!({"choices": [{"index": 0, "message": {"role": "assistant",
            "content": null, "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}]}}]});
        let json = ChatJson {
            body: Bytes::from(body.to_string()),
            ..answer("")
        };
        assert!(check_answer(&schema(), &json).is_ok());
        let response = ChatJson {
            body: Bytes::from(r#"{"object": "response", "output": [{"type": "function_call"}]}"#),
            format: WireFormat::Responses,
            ..answer("")
        };
        assert!(check_answer(&schema(), &response).is_ok());
    }

    #[test]
    fn a_response_object_passed_through_is_checked_by_its_message_text() {
        let response = |content: Value| {
            ChatJson {
            body: Bytes::from(
                json!({"object": "response", "output": [{"type": "message", "content": [content]}]})
                    .to_string(),
            ),
            usage: None,
            format: WireFormat::Responses,
            model: crate::AnswerModel::Unknown,
        }
        };
        let text = |t: &str| response(json!({"type": "output_text", "text": t}));
        assert!(check_answer(&schema(), &text(r#"{"n": 3}"#)).is_ok());
        let err = check_answer(&schema(), &text(r#"{"n": "x"}"#)).unwrap_err();
        assert_eq!(err.class, OutcomeClass::BadResponse);
        assert!(err.detail.contains("at `/n`"), "{}", err.detail);
        let refused = response(json!({"type": "refusal", "refusal": "no"}));
        assert!(check_answer(&schema(), &refused).is_ok());
    }

    #[test]
    fn a_schema_that_does_not_compile_cannot_be_honoured() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": 12}}}});
        let req = ChatRequest::parse(body.to_string().as_bytes()).unwrap();
        let err = validator(&req).unwrap_err();
        assert!(
            err.0.contains("response_format.json_schema.schema"),
            "{}",
            err.0
        );
    }
}
