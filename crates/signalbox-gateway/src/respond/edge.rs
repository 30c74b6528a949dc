//! Owns the edge: the served answer written in the client's wire format.
//! A JSON answer in the client's format passes as it is (a Responses
//! answer from a route serving the Responses API included); an OpenAI
//! completion becomes an Anthropic message for an Anthropic client, a
//! Response object for a Responses client. A
//! degraded answer is marked after that, so the marker is in what the
//! client reads whatever the provider spoke. Streams: [`stream`].

pub(crate) mod coalesce;
pub(crate) mod stream;

use bytes::Bytes;
use signalbox_config::DegradeStep;
use signalbox_core::WireFormat;

use super::ApiError;
use super::degraded::mark_json;

/// A JSON answer written in `format`, as the `client` reads it.
pub(crate) fn json(
    body: Bytes,
    format: WireFormat,
    client: WireFormat,
    degraded: &[DegradeStep],
    request_id: &str,
) -> Result<Bytes, ApiError> {
    let body = match (format, client) {
        (WireFormat::OpenAi, WireFormat::OpenAi)
        | (WireFormat::Anthropic, WireFormat::Anthropic)
        | (WireFormat::Responses, WireFormat::Responses)
        | (WireFormat::Embeddings, WireFormat::Embeddings) => body,
        (WireFormat::OpenAi, WireFormat::Anthropic) => {
            super::anthropic::message(&body).map_err(ApiError::UntranslatableAnswer)?
        }
        (WireFormat::OpenAi, WireFormat::Responses | WireFormat::Completions) => {
            rewritten(&body, client)?
        }
        // Only a client's own Anthropic or Responses body is answered in
        // its format, and no upstream answers in a client-only format.
        (
            WireFormat::Anthropic
            | WireFormat::Responses
            | WireFormat::Completions
            | WireFormat::Embeddings,
            _,
        )
        | (WireFormat::OpenAi, WireFormat::Embeddings) => {
            return Err(ApiError::UntranslatableAnswer(format!(
                "an answer in {format:?} format for a {client:?} client"
            )));
        }
    };
    Ok(if degraded.is_empty() {
        body
    } else {
        mark_json(body, degraded, request_id)
    })
}

/// A chat completion (OpenAI's shape) written as a Response object or a
/// legacy `text_completion`.
fn rewritten(completion: &[u8], client: WireFormat) -> Result<Bytes, ApiError> {
    let answer = signalbox_adapters::openai::parse_response(completion)
        .map_err(|e| ApiError::UntranslatableAnswer(e.to_string()))?;
    let now = signalbox_core::clock::unix_secs();
    Ok(Bytes::from(match client {
        WireFormat::Completions => signalbox_adapters::completions::render_response(&answer, now),
        _ => signalbox_adapters::responses::render_response(&answer, now),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const COMPLETION: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

    #[test]
    fn a_degraded_completion_for_an_anthropic_client_is_a_marked_message() {
        let steps = [DegradeStep::FallbackRoute];
        let out = json(
            Bytes::from(COMPLETION),
            WireFormat::OpenAi,
            WireFormat::Anthropic,
            &steps,
            "r1",
        )
        .unwrap_or_default();
        let v: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(v["type"], "message", "{v}");
        assert_eq!(v["content"][0]["text"], "hi", "{v}");
        assert_eq!(v["signalbox"]["degraded"][0], "fallback-route", "{v}");
    }

    #[test]
    fn an_answer_in_the_clients_format_passes_as_it_is() {
        let body = Bytes::from(COMPLETION);
        let out = json(
            body.clone(),
            WireFormat::OpenAi,
            WireFormat::OpenAi,
            &[],
            "r",
        );
        assert_eq!(out.ok(), Some(body));
    }

    #[test]
    fn an_answer_that_is_no_completion_is_an_error_not_a_guess() {
        let out = json(
            Bytes::from_static(b"{\"nope\":1}"),
            WireFormat::OpenAi,
            WireFormat::Anthropic,
            &[],
            "r",
        );
        assert!(matches!(out, Err(ApiError::UntranslatableAnswer(_))));
    }
}
