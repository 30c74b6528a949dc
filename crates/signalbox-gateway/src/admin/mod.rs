//! Owns the admin API: decision records, route health, configuration
//! reload, and operator actions (`actions.rs`). Every endpoint needs an
//! admin token with a role (`auth.rs`: read-only, operator, admin), distinct
//! from tenant keys; without a configured token the admin API is disabled.
//! Every call is audited (`audit.rs`).

mod actions;
mod audit;
mod auth;

pub(crate) use auth::{Need, authorize};

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use signalbox_decision_log::{Facet, LogReader, Query as LogQuery};

use crate::AppState;
use crate::reload::{self, ReloadError};

/// A reader over the decision log, after flushing so that records of
/// requests that just finished are visible.
async fn fresh_reader(state: &AppState) -> Result<LogReader, Box<Response>> {
    let Some(log) = &state.decision_log else {
        return Err(Box::new(admin_error(
            StatusCode::NOT_FOUND,
            "decision_log_disabled",
            "the decision log is disabled",
        )));
    };
    log.flush().await;
    log.reader().map_err(|e| {
        Box::new(admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ))
    })
}

/// The admin routes, each call audited.
pub(crate) fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/decisions", get(decisions))
        .route("/admin/decisions/{request_id}", get(decision))
        .route("/admin/routes", get(routes))
        .route("/admin/reload", post(reload).get(reload_status))
        .route("/admin/actions", post(actions::create).get(actions::list))
        .route("/admin/actions/{id}", delete(actions::revert))
        .route("/admin/audit", get(audit::list))
        .route_layer(axum::middleware::from_fn_with_state(state, audit::audit))
}

fn admin_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "type": "admin_error", "code": code, "param": null}});
    (status, Json(body)).into_response()
}

/// Scopes `GET /admin/decisions/{id}` to one tenant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionScope {
    tenant: Option<String>,
}

/// `GET /admin/decisions/{id}?tenant=`: the record whose gateway id
/// (`x-signalbox-request-id`) is `id`, else the one whose caller sent `id`
/// as `x-request-id`. A caller's id is anyone's to choose, so it may name
/// several records (across tenants): then the answer is `409` listing them,
/// to be asked for by gateway id or narrowed with `?tenant=`.
pub async fn decision(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    scope: Result<Query<DecisionScope>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let Query(scope) = match scope {
        Ok(q) => q,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "invalid_query", &e.body_text()),
    };
    let reader = match fresh_reader(&state).await {
        Ok(r) => r,
        Err(refusal) => return *refusal,
    };
    match reader.find_async(id.clone(), scope.tenant).await {
        Ok(mut records) if records.len() == 1 => Json(records.swap_remove(0)).into_response(),
        Ok(records) if records.is_empty() => admin_error(
            StatusCode::NOT_FOUND,
            "decision_not_found",
            &format!("no decision record for request {id}"),
        ),
        Ok(records) => ambiguous(&id, &records),
        Err(e) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ),
    }
}

/// `409`: a caller's request id that names several records, with each
/// one's gateway id, tenant, time and outcome.
fn ambiguous(id: &str, records: &[signalbox_core::DecisionRecord]) -> Response {
    let matches: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "request_id": r.request_id,
                "tenant": r.tenant,
                "time_ms": r.time_ms,
                "outcome": r.outcome,
                "status": r.status,
            })
        })
        .collect();
    let message = format!(
        "x-request-id {id} was sent by {} requests; ask for one by its gateway id \
         (x-signalbox-request-id), or add ?tenant=",
        records.len()
    );
    let body = serde_json::json!({
        "error": {"message": message, "type": "admin_error", "code": "ambiguous_request_id", "param": null},
        "matches": matches,
    });
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// Filters for `GET /admin/decisions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionFilter {
    /// The gateway's id or the caller's `x-request-id`.
    request_id: Option<String>,
    tenant: Option<String>,
    route: Option<String>,
    outcome: Option<String>,
    /// Milliseconds since the Unix epoch.
    since: Option<u64>,
    /// Milliseconds since the Unix epoch (exclusive).
    until: Option<u64>,
    alias: Option<String>,
    provider: Option<String>,
    model_version: Option<String>,
    prompt_version: Option<String>,
    policy_version: Option<String>,
    intent: Option<String>,
    /// A degradation step taken.
    degraded: Option<String>,
    /// An operator action id that changed the request.
    action: Option<String>,
    limit: Option<usize>,
}

impl DecisionFilter {
    /// The shared identifiers asked for, as log facets.
    fn facets(&mut self) -> Vec<Facet> {
        [
            self.alias.take().map(Facet::Alias),
            self.provider.take().map(Facet::Provider),
            self.model_version.take().map(Facet::ModelVersion),
            self.prompt_version.take().map(Facet::PromptVersion),
            self.policy_version.take().map(Facet::PolicyVersion),
            self.intent.take().map(Facet::Intent),
            self.degraded.take().map(Facet::Degraded),
            self.action.take().map(Facet::OperatorAction),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// `GET /admin/decisions?request_id=&tenant=&route=&outcome=&since=&until=&alias=&provider=&model_version=&prompt_version=&policy_version=&intent=&degraded=&action=&limit=`
pub async fn decisions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    filter: Result<Query<DecisionFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let Query(mut f) = match filter {
        Ok(q) => q,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "invalid_query", &e.body_text()),
    };
    let reader = match fresh_reader(&state).await {
        Ok(r) => r,
        Err(refusal) => return *refusal,
    };
    let q = LogQuery {
        facets: f.facets(),
        request_id: f.request_id,
        tenant: f.tenant,
        route: f.route,
        outcome: f.outcome,
        since_ms: f.since,
        until_ms: f.until,
        limit: f.limit.unwrap_or(100),
    };
    match reader.query_async(q).await {
        Ok(records) => Json(serde_json::json!({"decisions": records})).into_response(),
        Err(e) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ),
    }
}

/// `POST /admin/reload`
pub async fn reload(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Reload) {
        return *r;
    }
    match reload::reload(&state).await {
        Ok(done) => Json(serde_json::json!({
            "status": done.outcome.as_str(),
            "policy_version": done.policy_version,
        }))
        .into_response(),
        Err(e @ ReloadError::NoSource) => {
            admin_error(StatusCode::CONFLICT, "reload_unavailable", &e.to_string())
        }
        Err(e) => {
            let body = serde_json::json!({
                "error": {"message": e.to_string(), "type": "admin_error", "code": "reload_rejected", "param": null},
                "policy_version": state.runtime.load().config.version,
            });
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    }
}

/// `GET /admin/reload` — the last reload attempt.
pub async fn reload_status(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    Json(state.reload_status.load_full().as_ref().clone()).into_response()
}

/// `GET /admin/routes`: every route's breaker state and why, its latency
/// window, cooldown and slow start, capacity use, and the retry budget.
pub async fn routes(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let rt = state.runtime.load();
    let routes: Vec<serde_json::Value> = rt
        .routes
        .iter()
        .zip(&rt.config.routes)
        .map(|(target, cfg)| {
            let capacity = target.gate.as_ref().map(|g| {
                let (in_flight, queued) = g.usage();
                serde_json::json!({
                    "max_concurrency": cfg.max_concurrency,
                    "in_flight": in_flight,
                    "queued": queued,
                })
            });
            serde_json::json!({
                "route": target.id,
                "provider": target.provider,
                "model_version": target.version,
                "region": cfg.region,
                "health": target.health.view(),
                "health_check": cfg.health_check.mode.as_str(),
                "capacity": capacity,
                "operator": target.health.hold().map(|h| match h {
                    signalbox_dispatch::Hold::Out(a) | signalbox_dispatch::Hold::ForcedClosed(a) => a,
                }),
            })
        })
        .collect();
    let (requests, retries) = rt.retry_budget.usage();
    Json(serde_json::json!({
        "policy_version": rt.config.version,
        "routes": routes,
        "retry_budget": {
            "window_requests": requests,
            "window_retries": retries,
            "ratio": rt.config.resilience.retry.budget_ratio,
            "min_retries": rt.config.resilience.retry.budget_min_retries,
        },
    }))
    .into_response()
}
