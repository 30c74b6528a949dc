//! Owns Anthropic-format ingress: `POST /v1/messages` is the pipeline's
//! ordinary ingress in Anthropic's wire format. Its body is read once (by
//! `signalbox-adapters`) into the canonical model, whose OpenAI view (a
//! JSON map, never serialised) runs through the same stages as
//! `/v1/chat/completions`: authentication, policy, privacy, resilience and
//! the decision record apply unchanged. The client's own body travels
//! with it: an Anthropic route is sent that body (model swapped) while no
//! privacy or prompt rewrite applies, with the `anthropic-beta` header.
//! The answer, its stream events and every error are written in
//! Anthropic's format at the edge (`respond/`): passed on as an Anthropic
//! route wrote them, or encoded once from typed events.

mod count_tokens;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use signalbox_adapters::anthropic;
use signalbox_core::{ChatRequest, RequestError, WireFormat};

use crate::AppState;
use crate::pipeline::serve;

pub use count_tokens::count_tokens;

/// The path this module serves; `/v1/messages/…` paths it does not serve
/// are refused in its error shape too ([`is_messages_path`]).
pub(crate) const MESSAGES_PATH: &str = "/v1/messages";

/// Handles `POST /v1/messages`.
pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, body, WireFormat::Anthropic).await
}

/// Reads an Anthropic Messages body into the pipeline's request: its
/// OpenAI view (the alias stays the model name), with the client's own
/// body and what the view lacks attached. Errors name the field.
pub(crate) fn parse(bytes: &[u8], headers: &HeaderMap) -> Result<ChatRequest, RequestError> {
    let mut ingress = anthropic::parse_ingress(bytes, beta(headers))?;
    let view = ingress.openai_view().map_err(|e| RequestError::Invalid {
        field: "(body)".into(),
        problem: e.to_string(),
    })?;
    Ok(ChatRequest::from_object(view)?.with_origin(Some(ingress.origin)))
}

/// The client's `anthropic-beta` header(s), joined as Anthropic reads them.
fn beta(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Whether `path` is `/v1/messages` or below it.
pub(crate) fn is_messages_path(path: &str) -> bool {
    path.strip_prefix(MESSAGES_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
