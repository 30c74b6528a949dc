//! Owns the admin API: decision records, route health, configuration
//! reload, and operator actions (`actions.rs`). Every endpoint needs an
//! admin token with a role (`auth.rs`: read-only, operator, admin), distinct
//! from tenant keys; without a configured token the admin API is disabled.
//! Every call is audited (`audit.rs`). "What changed?" between two
//! windows, and the configuration text of a policy version, in
//! `what_changed.rs`.

mod actions;
mod audit;
mod auth;
mod decisions;
mod quality;
mod what_changed;

pub(crate) use actions::Moment;
pub(crate) use auth::{Need, authorize};

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use signalbox_decision_log::LogReader;

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
        .route("/admin/decisions", get(decisions::list))
        .route("/admin/decisions/{request_id}", get(decisions::one))
        .route("/admin/routes", get(routes))
        .route("/admin/reload", post(reload).get(reload_status))
        .route("/admin/actions", post(actions::create).get(actions::list))
        .route("/admin/actions/{id}", delete(actions::revert))
        .route("/admin/audit", get(audit::list))
        .route("/admin/shadow", get(shadow))
        .route("/admin/canary", get(canary))
        .route("/admin/quality/scores", get(quality::scores))
        .route("/admin/what-changed", get(what_changed::what_changed))
        .route(
            "/admin/config-versions/{version}",
            get(what_changed::config_version),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, audit::audit))
}

fn admin_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "type": "admin_error", "code": code, "param": null}});
    (status, Json(body)).into_response()
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

/// `GET /admin/shadow`: each shadow rule, and per shadow route the
/// requests mirrored, skipped (by reason) and failed, agreement with the
/// served answers per scorer, and the mean latency and cost deltas.
pub async fn shadow(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let rt = state.runtime.load();
    Json(crate::shadow::report(&rt)).into_response()
}

/// `GET /admin/canary`: each canary's step, share, arms in the current
/// window and every step taken with its evidence.
pub async fn canary(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let rt = state.runtime.load();
    Json(crate::canary::report(&rt)).into_response()
}

/// The APIs a route serves: its kind, and `responses` when its provider
/// serves the Responses API natively (passed through).
fn endpoints(cfg: &signalbox_config::RouteConfig) -> Vec<&'static str> {
    let mut out = vec![cfg.endpoint.label()];
    if cfg.responses {
        out.push("responses");
    }
    out
}

/// A route's capability record: the endpoint kinds it serves, its
/// features, and (embedding routes) its space and input limits.
fn capability_record(cfg: &signalbox_config::RouteConfig) -> serde_json::Value {
    let s = cfg.supports;
    let mut record = serde_json::json!({
        "endpoints": endpoints(cfg),
        "supports": {
            "tools": s.tools,
            "vision": s.vision,
            "json_mode": s.json_mode,
            "streaming": s.streaming,
            "prefill_continuation": s.prefill_continuation,
            "reasoning": s.reasoning,
        },
    });
    if let Some(e) = &cfg.embedding {
        record["embedding"] = serde_json::json!({
            "model": e.model,
            "dimensions": e.dimensions,
            "max_input_tokens": e.max_input_tokens,
            "max_batch": e.max_batch,
        });
    } else {
        record["context_window"] = cfg.context_window.into();
        record["max_output_tokens"] = cfg.max_output_tokens.into();
    }
    record
}

/// `GET /admin/routes`: every route's capability record, breaker state
/// and why, its latency window, cooldown and slow start, capacity use,
/// and the retry budget.
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
                "capabilities": capability_record(cfg),
                "health": target.health.view(),
                "health_check": cfg.health_check.mode.as_str(),
                "capacity": capacity,
                "quality": crate::quality::view(&state, &rt, target.id.as_str()),
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
