//! Owns reading a whole non-streaming answer: size-bounded, checked to be
//! what the route's format promises (a chat completion, an Anthropic
//! message, a Response object), its usage and answering model read in
//! place, and a native kind's answer rendered once as an OpenAI completion.

use bytes::Bytes;
use serde::Deserialize;
use signalbox_core::request::WireFormat;
use signalbox_core::{OutcomeClass, Usage};

use super::answer_model::{InPlace, model_at};
use super::{AnswerHead, AnswerModel, ChatJson, HttpUpstream, MAX_RESPONSE_BYTES, passthrough};
use crate::classify::UpstreamError;
use crate::{client, native};

/// What an OpenAI-compatible answer must have, read without copying.
#[derive(Deserialize)]
pub(super) struct ResponseShape<'a> {
    #[serde(rename = "choices")]
    _choices: serde::de::IgnoredAny,
    #[serde(default)]
    pub(super) usage: Option<Usage>,
    #[serde(borrow, default)]
    pub(super) model: InPlace<'a>,
}

impl HttpUpstream {
    /// Reads a whole non-streaming answer and checks that it is a chat
    /// completion (a JSON object with `choices`).
    pub async fn read_json(&self, answer: AnswerHead) -> Result<ChatJson, UpstreamError> {
        // A parse error may quote the body it choked on.
        self.read_json_unscrubbed(answer)
            .await
            .map_err(|e| self.scrubber.error(e))
    }

    async fn read_json_unscrubbed(&self, answer: AnswerHead) -> Result<ChatJson, UpstreamError> {
        if answer
            .content_length
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(UpstreamError::new(
                OutcomeClass::BadResponse,
                format!("response larger than {MAX_RESPONSE_BYTES} bytes"),
            ));
        }
        let body = client::read_limited(
            answer.body,
            MAX_RESPONSE_BYTES,
            answer.deadline,
            self.timeouts.total,
        )
        .await?;
        match answer.format {
            WireFormat::Anthropic => return passthrough::native_json(body),
            WireFormat::Responses => return passthrough::responses_json(body),
            _ => {}
        }
        let Some(adapter) = &self.adapter else {
            return match serde_json::from_slice::<ResponseShape>(&body) {
                Ok(shape) => Ok(ChatJson {
                    model: model_at(&body, &shape.model),
                    usage: shape.usage,
                    format: WireFormat::OpenAi,
                    body,
                }),
                Err(e) => Err(UpstreamError::new(
                    OutcomeClass::BadResponse,
                    format!("upstream answered 2xx with an invalid chat completion: {e}"),
                )),
            };
        };
        let mut answer = adapter.parse_response(&body).map_err(|e| {
            UpstreamError::new(
                OutcomeClass::BadResponse,
                format!(
                    "{} answered 2xx with an unreadable body: {e}",
                    adapter.name()
                ),
            )
        })?;
        let usage = Some(Usage::from(answer.usage));
        let body = signalbox_adapters::openai::render_response(&answer, native::unix_now());
        let model = std::mem::take(&mut answer.model);
        Ok(ChatJson {
            body: Bytes::from(body),
            usage,
            format: WireFormat::OpenAi,
            model: if model.is_empty() {
                AnswerModel::Unknown
            } else {
                AnswerModel::Named(model)
            },
        })
    }
}
