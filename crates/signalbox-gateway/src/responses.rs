//! Owns OpenAI Responses ingress: `POST /v1/responses` is the pipeline's
//! ordinary ingress in the Responses format. Its stateless subset is read
//! once (by `signalbox-adapters`) into the canonical request, whose OpenAI
//! view runs through the same stages as `/v1/chat/completions`. A route
//! whose provider serves the Responses API (`endpoint: [chat, responses]`)
//! is sent the client's own body, and its answer (JSON or typed events) is
//! passed back as written; every other route is reached through its chat
//! API, and the answer is written as a Response object, or as the
//! Responses event stream, at the edge (`respond/`). Any rewrite (privacy
//! boundary, prompt, degradation) drops the client's body, so a rewritten
//! request is translated on every route (noted in the record). Errors keep
//! OpenAI's shape, as the Responses API's do.
//! Nothing is stored: `previous_response_id` is refused naming the field.
//! Legacy completions (`POST /v1/completions`) come in the same way: the
//! prompt is one user message, the answer a `text_completion`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use signalbox_adapters::{ChatRequest as CanonicalRequest, completions, openai, responses};
use signalbox_core::request::{NativeBody, Origin};
use signalbox_core::{ChatRequest, RequestError, WireFormat};

use crate::AppState;
use crate::pipeline::serve;

/// Handles `POST /v1/responses`.
pub async fn responses(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, body, WireFormat::Responses).await
}

/// Handles `POST /v1/completions` (legacy completions, answered by chat
/// models: the prompt is one user message).
pub async fn completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, body, WireFormat::Completions).await
}

/// Reads a legacy completions body into the pipeline's request.
pub(crate) fn parse_completions(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
    view_of(completions::parse_request(bytes)?, WireFormat::Completions)
}

/// Reads a Responses body into the pipeline's request: its OpenAI view,
/// with what translating it drops noted, and the client's own body
/// attached for routes that serve the Responses API (passed through while
/// nothing rewrites the request). Errors name the field.
pub(crate) fn parse(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
    let responses::Ingress {
        mut canonical,
        body,
        untranslatable,
    } = responses::parse_ingress(bytes)?;
    let view = openai::view(&mut canonical).map_err(|e| RequestError::Invalid {
        field: "(body)".into(),
        problem: e.to_string(),
    })?;
    let origin = Origin {
        native: NativeBody {
            format: WireFormat::Responses,
            body,
            beta: None,
        },
        untranslatable,
        notes: std::mem::take(&mut canonical.notes),
    };
    Ok(ChatRequest::from_object(view)?.with_origin(Some(origin)))
}

/// A canonical request read in `format`, as the pipeline's OpenAI view.
fn view_of(
    mut canonical: CanonicalRequest,
    format: WireFormat,
) -> Result<ChatRequest, RequestError> {
    let view = openai::view(&mut canonical).map_err(|e| RequestError::Invalid {
        field: "(body)".into(),
        problem: e.to_string(),
    })?;
    let notes = std::mem::take(&mut canonical.notes);
    Ok(ChatRequest::from_object(view)?.with_ingress(format, notes))
}
