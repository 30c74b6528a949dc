//! Owns `POST /v1/messages/count_tokens`, answered by the gateway itself:
//! the body is read as `/v1/messages` reads it, the caller authenticated
//! and the model checked against the configured aliases, and the answer is
//! the prompt estimate the policy uses for context windows, cost and
//! tokens-per-minute limits (`signalbox_policy::tokens::estimate_request`,
//! Anthropic-only blocks included). It is an estimate by the gateway's
//! counter (tiktoken `o200k_base`, else characters / 4), not Anthropic's
//! tokenizer; `x-signalbox-token-method` names the method. No provider is
//! called, so counting never spends a provider's quota.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use signalbox_core::headers::REQUEST_ID;
use signalbox_core::{RequestError, WireFormat};
use signalbox_policy::PolicyError;
use signalbox_policy::tokens::TokenEstimate;

use crate::AppState;
use crate::ingress::RequestIds;
use crate::respond::ApiError;

/// Handles `POST /v1/messages/count_tokens`.
pub async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ids = RequestIds::new(&headers);
    let mut resp = match count(&state, &headers, body).await {
        Ok(estimate) => {
            let body = json!({ "input_tokens": estimate.prompt_tokens }).to_string();
            let mut resp = Response::new(Body::from(body));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.headers_mut().insert(
                "x-signalbox-token-method",
                HeaderValue::from_static(estimate.method),
            );
            resp
        }
        Err(e) => e.into_response_in(ids.echo(), WireFormat::Anthropic),
    };
    resp.headers_mut()
        .insert(REQUEST_ID, ids.echo_header.clone());
    resp
}

async fn count(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenEstimate, ApiError> {
    let rt = state.runtime.load_full();
    signalbox_policy::authenticate(&rt.policy, headers)?;
    let server = &rt.config.server;
    let bytes = crate::ingress::read_body(
        headers,
        body,
        server.max_body_bytes,
        server.body_read_timeout,
    )
    .await
    .inspect_err(|e| crate::pipeline::count_body_timeout(state, e))?;
    let bytes = with_max_tokens(&bytes)?;
    let req = super::parse(&bytes, headers)?;
    if !rt.policy.model_names().any(|m| m == req.model()) {
        return Err(ApiError::Policy(PolicyError::UnknownModel {
            model: req.model().to_owned(),
            known: rt.policy.model_names().collect::<Vec<_>>().join(", "),
        }));
    }
    Ok(signalbox_policy::tokens::estimate_request(&req))
}

/// The body with `max_tokens` (which count_tokens bodies leave out) set, so
/// it reads as a Messages body.
fn with_max_tokens(bytes: &[u8]) -> Result<Vec<u8>, RequestError> {
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| RequestError::Syntax(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        map.entry("max_tokens").or_insert(json!(1));
    }
    Ok(value.to_string().into_bytes())
}
