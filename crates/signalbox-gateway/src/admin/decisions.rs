//! Owns the decision endpoints: one record by id (`GET /admin/decisions/{id}`)
//! and listings filtered by tenant, route, outcome, time and every shared
//! identifier, or aggregated by one of them (`GET /admin/decisions`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use signalbox_decision_log::{Facet, GroupBy, Query as LogQuery};

use super::{Need, admin_error, authorize, fresh_reader};
use crate::AppState;

/// Scopes `GET /admin/decisions/{id}` to one tenant; `format=text` asks
/// for the explanation `signalbox explain` prints instead of the JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionScope {
    tenant: Option<String>,
    format: Option<Format>,
}

/// How one record is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    /// The record (the default).
    Json,
    /// The operators' explanation, as plain text.
    Text,
}

/// `GET /admin/decisions/{id}?tenant=&format=`: the record whose gateway id
/// (`x-signalbox-request-id`) is `id`, else the one whose caller sent `id`
/// as `x-request-id`. A caller's id is anyone's to choose, so it may name
/// several records (across tenants): then the answer is `409` listing them,
/// to be asked for by gateway id or narrowed with `?tenant=`.
pub(crate) async fn one(
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
        Ok(records) if records.len() == 1 && scope.format == Some(Format::Text) => {
            let text = records.first().map(signalbox_decision_log::explain);
            let mut resp = text.unwrap_or_default().into_response();
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            resp
        }
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
    /// Whether the request asked for tools.
    tools: Option<bool>,
    /// Aggregate by this identifier instead of listing records.
    group_by: Option<String>,
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
            self.tools.take().map(Facet::Tools),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// `GET /admin/decisions?request_id=&tenant=&route=&outcome=&since=&until=&alias=&provider=&model_version=&prompt_version=&policy_version=&intent=&degraded=&action=&tools=&limit=`:
/// the records, newest first; with `group_by=` (any identifier), the
/// aggregates per value instead.
pub(crate) async fn list(
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
    let group_by = match f.group_by.as_deref().map(|g| (g, GroupBy::parse(g))) {
        None => None,
        Some((_, Some(by))) => Some(by),
        Some((name, None)) => {
            let known: Vec<&str> = GroupBy::ALL.iter().map(|(n, _)| *n).collect();
            let message = format!(
                "group_by: unknown identifier {name:?} (known: {})",
                known.join(", ")
            );
            return admin_error(StatusCode::BAD_REQUEST, "invalid_query", &message);
        }
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
    if let Some(by) = group_by {
        let reader = reader.clone();
        let groups = tokio::task::spawn_blocking(move || reader.aggregate(&q, by)).await;
        return match groups {
            Ok(Ok(groups)) => {
                Json(serde_json::json!({"group_by": f.group_by, "groups": groups})).into_response()
            }
            Ok(Err(e)) => admin_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "decision_log_error",
                &e.to_string(),
            ),
            Err(_) => admin_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "decision_log_error",
                "closed",
            ),
        };
    }
    match reader.query_async(q).await {
        Ok(records) => Json(serde_json::json!({"decisions": records})).into_response(),
        Err(e) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ),
    }
}
