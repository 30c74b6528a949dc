//! Owns embeddings ingress: `POST /v1/embeddings` is the pipeline's
//! ordinary ingress in OpenAI's embeddings format, so authentication,
//! tenants, signals, hard constraints (residency, posture, and the
//! `endpoint` constraint that keeps it on embedding routes), the privacy
//! boundary, limits and budgets, failover with breakers, idempotency,
//! decision records and metrics are the chat path's own. What differs
//! lives where it differs: the body is read by `signalbox-adapters`'
//! embeddings parser (fields named on refusal), the token estimate and
//! the constraints on inputs and dimensions in `signalbox-policy`, the
//! privacy walk over `input` in `privacy.rs` (a tokenising boundary
//! redacts: a vector cannot be restored), batching in
//! `signalbox-providers`, and a round never leaves the embedding space of
//! the request's first route (`round.rs`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use signalbox_config::EmbeddingSpec;
use signalbox_core::{ChatRequest, RequestError, RouteIdx, SkipKind, SkipRecord, WireFormat};
use signalbox_dispatch::Eligible;

use crate::AppState;
use crate::pipeline::serve;
use crate::runtime::Runtime;

/// Handles `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(state, headers, body, WireFormat::Embeddings).await
}

/// Reads an embeddings body into the pipeline's request. Errors name the
/// field.
pub(crate) fn parse(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
    let body = signalbox_adapters::embeddings::parse_request(bytes)?;
    ChatRequest::embeddings(body, Vec::new())
}

/// The embedding space a request's rounds keep to: the space of the alias
/// it named (one per alias, checked at load). Set by the first round.
#[derive(Debug, Default)]
pub(crate) struct Space(std::sync::OnceLock<Option<EmbeddingSpec>>);

impl Space {
    /// Drops every candidate of another embedding space than the alias the
    /// request named (`alias`, read on the first round: a degradation step
    /// may reach another alias, and vectors of two spaces are never a
    /// fallback). Chat requests and routes without an embedding record
    /// pass as they are.
    pub(crate) fn keep(&self, rt: &Runtime, alias: usize, candidates: Vec<RouteIdx>) -> Eligible {
        let spec_of = |c: RouteIdx| {
            rt.config
                .routes
                .get(c.get())
                .and_then(|r| r.embedding.as_ref())
        };
        let space = self.0.get_or_init(|| {
            let alias = rt.config.aliases.get(alias)?;
            alias.routes.iter().find_map(|id| {
                let route = rt.config.routes.iter().find(|r| r.id == *id)?;
                route.embedding.clone()
            })
        });
        let Some(space) = space else {
            return Eligible {
                candidates,
                skipped: Vec::new(),
            };
        };
        Eligible::retain(candidates, |c| {
            let spec = spec_of(c)?;
            (!spec.same_space(space)).then(|| {
                let id = rt.config.routes.get(c.get()).map_or("?", |r| r.id.as_str());
                SkipRecord::new(
                    id,
                    SkipKind::CannotCarry,
                    format!(
                        "embeds into another space ({} × {}) than the request's ({} × {})",
                        spec.model, spec.dimensions, space.model, space.dimensions
                    ),
                )
            })
        })
    }
}
