//! Owns the audit of admin calls: one layer around every admin route
//! records who called (the token's name and role, `-` without a valid
//! token), when, the method and path, the status, and — for operator
//! actions — the action id and the reason (the handler leaves an
//! [`AuditNote`] in the response's extensions). Entries go to the decision
//! log's audit table (`GET /admin/audit`) and to the log (`tracing`), so a
//! gateway without a decision log still has the trail in its logs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use signalbox_decision_log::AuditEntry;

use super::auth::{Need, authorize, identify};
use super::{admin_error, fresh_reader};
use crate::AppState;

/// What a handler adds to its call's audit entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditNote {
    /// The action created or reverted.
    pub action: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// What was done, in words.
    pub detail: String,
}

/// The layer: runs the call, then audits it.
pub(crate) async fn audit(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let caller = identify(&state.runtime.load().config.admin, req.headers()).ok();
    let resp = next.run(req).await;
    let note = resp
        .extensions()
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_default();
    let (who, role) = caller.map_or(("-".to_owned(), "-"), |c| {
        (c.actor.name, c.actor.role.label())
    });
    let status = resp.status().as_u16();
    tracing::info!(
        %who, %role, %method, %path, status,
        action = note.action.as_deref().unwrap_or("-"),
        reason = note.reason.as_deref().unwrap_or("-"),
        "Admin call."
    );
    if let Some(log) = &state.decision_log {
        let entry = AuditEntry {
            time_ms: signalbox_core::clock::unix_ms(),
            who,
            role: role.to_owned(),
            method,
            path,
            action: note.action,
            reason: note.reason,
            status,
            detail: note.detail,
        };
        if let Err(e) = log.audit(entry).await {
            tracing::error!(error = %e, "Admin call not written to the audit table.");
        }
    }
    resp
}

/// `GET /admin/audit?limit=`: the newest admin calls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    limit: Option<usize>,
}

/// `GET /admin/audit`
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let Query(q) = match q {
        Ok(q) => q,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "invalid_query", &e.body_text()),
    };
    let reader = match fresh_reader(&state).await {
        Ok(r) => r,
        Err(refusal) => return *refusal,
    };
    match reader.audit_async(q.limit.unwrap_or(100)).await {
        Ok(entries) => Json(serde_json::json!({"audit": entries})).into_response(),
        Err(e) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ),
    }
}
