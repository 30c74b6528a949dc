//! Owns the same-family fast path of an [`HttpUpstream`]: a request still
//! carrying the client's own body, bound for a provider that speaks its
//! format, is sent that body with only the model swapped (and the output
//! limit clamped where the route demands it), and the answer is read
//! without translation, its usage taken for budgets and records.

use bytes::Bytes;
use signalbox_adapters::{NoteAction, Retention, RouteSettings, TranslateError, TranslationNote};
use signalbox_core::request::{OutputClamp, WireFormat};
use signalbox_core::{ChatRequest, OutcomeClass};

use super::{ChatJson, HttpUpstream, PrepareError, Prepared, clamp_note, parse_uri, prepare_error};
use crate::UpstreamError;

impl HttpUpstream {
    /// The same-family fast path: the client's own body, forwarded with
    /// only the model swapped (and the output limit clamped where the
    /// route demands it). `None` when the request has no native body (it
    /// was rewritten, or arrived as OpenAI) or this provider speaks
    /// another format. A Responses body goes only to a route that declares
    /// the Responses API (`endpoint: [chat, responses]`), on a zero-retention
    /// route with `store: false`.
    pub(super) fn forward_native(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Option<Result<Prepared, PrepareError>> {
        let native = req.native()?;
        let responses = native.format == WireFormat::Responses;
        if responses && !route.responses {
            return None;
        }
        let clamp = route
            .max_output_tokens
            .zip(req.max_output_tokens())
            .filter(|(cap, requested)| *requested > u64::from(*cap))
            .map(|(sent, requested)| OutputClamp { requested, sent });
        let no_store = route.retention == Retention::None;
        // Passed through or not, a structured output is checked before it
        // is returned (a Responses body's `text.format`, read into the
        // request's OpenAI view).
        let schema = match crate::structured::validator(req) {
            Ok(schema) => schema,
            Err(e) => return Some(Err(e)),
        };
        let body = native.upstream_json_for(&route.upstream_model, clamp.map(|c| c.sent), no_store);
        let target = match &self.adapter {
            Some(adapter) => adapter
                .forward_native(native, body, req.is_stream())?
                .and_then(|r| {
                    let url = parse_uri(&r.url)
                        .map_err(|e| TranslateError::Http(format!("invalid upstream URL: {e}")))?;
                    Ok((url, r.headers, r.body, r.stream))
                }),
            // The OpenAI kind without quirks: its URL; the bearer key is
            // among the provider's headers.
            None if responses => Ok((
                self.responses_url.clone(),
                http::HeaderMap::new(),
                body,
                req.is_stream(),
            )),
            None => return None,
        };
        let mut notes: Vec<TranslationNote> = clamp.iter().map(clamp_note).collect();
        if responses {
            notes.push(PASSED_THROUGH.clone());
            if schema.is_some() {
                notes.push(SCHEMA_CHECKED.clone());
            }
        }
        Some(
            target
                .map(|(url, headers, body, stream)| Prepared {
                    body: Bytes::from(body),
                    stream,
                    client: req.ingress(),
                    native: Some((url, headers)),
                    notes,
                    max_tokens_clamped: clamp,
                    format: native.format,
                    schema,
                    embedding: None,
                })
                .map_err(prepare_error),
        )
    }
}

impl HttpUpstream {
    /// The failure a passed-through Responses stream's first event reports:
    /// `error` or `response.failed` before anything reached the caller.
    pub(super) fn responses_first_event_error(&self, data: &str) -> Option<UpstreamError> {
        use signalbox_adapters::responses::{EventKind, event_kind, failure_of};
        if event_kind(None, data) != EventKind::Failed {
            return None;
        }
        let (code, message) = failure_of(data);
        let family = self.adapter.as_ref().map_or(
            &signalbox_adapters::openai::FORMAT as &dyn signalbox_adapters::ProviderFormat,
            |a| a.format(),
        );
        Some(crate::native::error_event(
            family,
            &self.scrubber,
            &code,
            &message,
        ))
    }
}

/// The decision record's note for a Responses request passed through.
static PASSED_THROUGH: std::sync::LazyLock<TranslationNote> =
    std::sync::LazyLock::new(|| TranslationNote {
        field: "(body)".into(),
        action: NoteAction::PassedThrough,
        reason: "sent to the route's Responses API as the client wrote it (model swapped)".into(),
    });

/// The decision record's note for a passed-through structured output: the
/// provider enforces the schema itself, and the gateway checks it again.
static SCHEMA_CHECKED: std::sync::LazyLock<TranslationNote> =
    std::sync::LazyLock::new(|| TranslationNote {
        field: "text.format".into(),
        action: NoteAction::PassedThrough,
        reason: "passed through with the body; the answer is checked against its JSON schema \
                 before it is returned (a stream is read whole first), and one that breaks it \
                 fails over"
            .into(),
    });

/// The note for a Responses request sent through a route's chat API: the
/// route serves no Responses API, or (one that does) something rewrote
/// the request (privacy boundary, prompt, degradation), so the client's
/// own body no longer says what is sent.
pub(super) fn responses_translated(route: &RouteSettings) -> TranslationNote {
    let reason = if route.responses {
        "sent through the chat API, not passed through: the request was rewritten \
         (a privacy boundary guards the route's zone, a prompt variant or a degradation \
         step applies), so the client's Responses body no longer says what is sent"
    } else {
        "sent through the route's chat API (the route does not declare the Responses API)"
    };
    TranslationNote {
        field: "(body)".into(),
        action: NoteAction::Translated,
        reason: reason.into(),
    }
}

/// A Responses answer passed through: checked to be a Response object
/// (a `failed` one is a failure, another route may serve), its usage read.
pub(super) fn responses_json(body: Bytes) -> Result<ChatJson, UpstreamError> {
    let summary = signalbox_adapters::responses::read_response(&body).map_err(|e| {
        UpstreamError::new(
            OutcomeClass::BadResponse,
            format!("upstream answered 2xx with an invalid Response object: {e}"),
        )
    })?;
    if let Some((code, message)) = summary.failed {
        return Err(UpstreamError::new(
            OutcomeClass::BadResponse,
            format!("upstream answered a failed response: {code}: {message}"),
        ));
    }
    Ok(ChatJson {
        usage: summary.usage,
        // A Response object names its model before its output.
        model: super::answer_model::model_before_content(&body),
        body,
        format: WireFormat::Responses,
    })
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
