//! Owns the same-family fast path of an [`HttpUpstream`]: a request still
//! carrying the client's own body, bound for a provider that speaks its
//! format, is sent that body with only the model swapped (and the output
//! limit clamped where the route demands it), and the answer is read
//! without translation, its usage taken for budgets and records.

use bytes::Bytes;
use signalbox_adapters::{RouteSettings, TranslateError};
use signalbox_core::request::{OutputClamp, WireFormat};
use signalbox_core::{ChatRequest, OutcomeClass};

use super::{ChatJson, HttpUpstream, PrepareError, Prepared, clamp_note, parse_uri, prepare_error};
use crate::UpstreamError;

impl HttpUpstream {
    /// The same-family fast path: the client's own body, forwarded with
    /// only the model swapped (and the output limit clamped where the
    /// route demands it). `None` when the request has no native body (it
    /// was rewritten, or arrived as OpenAI) or this provider speaks
    /// another format.
    pub(super) fn forward_native(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Option<Result<Prepared, PrepareError>> {
        let native = req.native()?;
        let adapter = self.adapter.as_ref()?;
        let clamp = route
            .max_output_tokens
            .zip(req.max_output_tokens())
            .filter(|(cap, requested)| *requested > u64::from(*cap))
            .map(|(sent, requested)| OutputClamp { requested, sent });
        let body = native.upstream_json(&route.upstream_model, clamp.map(|c| c.sent));
        let forwarded = adapter.forward_native(native, body, req.is_stream())?;
        Some(
            forwarded
                .and_then(|request| {
                    let url = parse_uri(&request.url)
                        .map_err(|e| TranslateError::Http(format!("invalid upstream URL: {e}")))?;
                    Ok(Prepared {
                        body: Bytes::from(request.body),
                        stream: request.stream,
                        client: req.ingress(),
                        native: Some((url, request.headers)),
                        notes: clamp.iter().map(clamp_note).collect(),
                        max_tokens_clamped: clamp,
                        format: native.format,
                        // The client's own format says how its output is shaped.
                        schema: None,
                        embedding: None,
                    })
                })
                .map_err(prepare_error),
        )
    }
}

/// A native answer passed on as the provider wrote it: checked to be a
/// JSON object, its usage read for budgets and records.
pub(super) fn native_json(body: Bytes) -> Result<ChatJson, UpstreamError> {
    let usage = signalbox_adapters::anthropic::usage_of_message(&body).map_err(|e| {
        UpstreamError::new(
            OutcomeClass::BadResponse,
            format!("upstream answered 2xx with an invalid message: {e}"),
        )
    })?;
    Ok(ChatJson {
        usage,
        model: super::answer_model::model_before_content(&body),
        body,
        format: WireFormat::Anthropic,
    })
}
