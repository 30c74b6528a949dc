//! Owns the operator-action endpoints: `POST /admin/actions` (create),
//! `GET /admin/actions` (the ones in force), `DELETE /admin/actions/{id}`
//! (revert, with a reason). An action names what it acts on; every name is
//! checked against the configuration in force (an unknown route is a 400
//! naming the field and the known routes), the reason is required, the TTL
//! bounded. Actions live in the shared state store, so every replica
//! applies them and a reload keeps them. Each call leaves an `AuditNote`
//! for the audit layer.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use signalbox_config::Config;
use signalbox_core::operator::{ActionError, NewAction, OperatorAction, Target, required_reason};

use super::admin_error;
use super::audit::AuditNote;
use super::auth::{Need, authorize};
use crate::AppState;

/// `POST /admin/actions` with a [`NewAction`] body: 201 with the action.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Who first: a caller without a valid token learns nothing else.
    let caller = match authorize(&state, &headers, Need::Read) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let new: NewAction = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                "invalid_action",
                &format!("the action is not valid: {e}"),
            );
        }
    };
    if let Err(r) = caller.allows(Need::Act(new.action.kind())) {
        return *r;
    }
    let id = format!("act-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let now = signalbox_core::clock::unix_ms();
    let action = match new.into_action(id, caller.actor, now) {
        Ok(a) => a,
        Err(e) => return invalid(&e),
    };
    if let Err(e) = check_names(&state.runtime.load().config, &action) {
        return invalid(&e);
    }
    if let Err(e) = state.actions.create(action.clone()).await {
        return admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state_unavailable",
            &e.to_string(),
        );
    }
    count(&state, &action, Moment::Created);
    tracing::warn!(
        id = %action.id, who = %action.who, action = %action.action, reason = %action.reason,
        expires_ms = ?action.expires_ms, "Operator action created."
    );
    let note = AuditNote {
        action: Some(action.id.clone()),
        reason: Some(action.reason.clone()),
        detail: format!("created: {}", action.action),
    };
    let mut resp = (StatusCode::CREATED, Json(&action)).into_response();
    resp.extensions_mut().insert(note);
    resp
}

/// `GET /admin/actions`: the actions in force, oldest first.
pub(crate) async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    match state.actions.list().await {
        Ok(mut actions) => {
            actions.sort_by_key(|a| a.created_ms);
            Json(serde_json::json!({"actions": actions})).into_response()
        }
        Err(e) => admin_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "state_unavailable",
            &e.to_string(),
        ),
    }
}

/// The body of a revert.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Revert {
    #[serde(default)]
    reason: String,
}

/// `DELETE /admin/actions/{id}` with `{"reason": …}`: 200 with the action
/// reverted, 404 when no action of that id is in force.
pub(crate) async fn revert(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let caller = match authorize(&state, &headers, Need::Read) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Revert { reason } = if body.is_empty() {
        Revert::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return admin_error(StatusCode::BAD_REQUEST, "invalid_revert", &e.to_string());
            }
        }
    };
    let Some(action) = find(&state, &id).await else {
        return not_found(&id);
    };
    if let Err(r) = caller.allows(Need::Act(action.action.kind())) {
        return *r;
    }
    let reason = match required_reason(&reason) {
        Ok(r) => r,
        Err(e) => return invalid(&e),
    };
    let reverted = match state.actions.revert(&id).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(&id),
        Err(e) => {
            return admin_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "state_unavailable",
                &e.to_string(),
            );
        }
    };
    count(&state, &reverted, Moment::Reverted);
    tracing::warn!(
        id = %reverted.id, who = %caller.actor, action = %reverted.action, %reason,
        "Operator action reverted."
    );
    let note = AuditNote {
        action: Some(reverted.id.clone()),
        reason: Some(reason.clone()),
        detail: format!("reverted: {}", reverted.action),
    };
    let body = serde_json::json!({"reverted": reverted, "by": caller.actor, "reason": reason});
    let mut resp = Json(body).into_response();
    resp.extensions_mut().insert(note);
    resp
}

/// The action `id`, if in force (read from the store, not the snapshot).
async fn find(state: &AppState, id: &str) -> Option<OperatorAction> {
    let actions = state.actions.list().await.ok()?;
    actions.into_iter().find(|a| a.id == id)
}

/// Whether an action was created or reverted (the metric's `event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    Created,
    Reverted,
}

impl Moment {
    fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Reverted => "reverted",
        }
    }
}

fn count(state: &AppState, action: &OperatorAction, moment: Moment) {
    let kind = action.action.kind().label();
    state.telemetry.count(
        signalbox_core::metric_names::OPERATOR_ACTIONS_TOTAL,
        &[("kind", kind), ("event", moment.label())],
    );
    crate::breaker_events::operator_forced(state, action, moment);
}

fn not_found(id: &str) -> Response {
    admin_error(
        StatusCode::NOT_FOUND,
        "action_not_found",
        &format!("no operator action {id} is in force (it may have expired or been reverted)"),
    )
}

/// A 400 naming the field at fault.
fn invalid(e: &ActionError) -> Response {
    let body = serde_json::json!({"error": {
        "message": e.to_string(), "type": "admin_error", "code": "invalid_action", "param": e.field,
    }});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Every name the action refers to exists in `config` (intents, which
/// callers may name freely, need only be well formed).
fn check_names(config: &Config, action: &OperatorAction) -> Result<(), ActionError> {
    for (field, target) in action.action.references() {
        let known: Vec<&str> = match &target {
            Target::Route(_) => config.routes.iter().map(|r| r.id.as_str()).collect(),
            Target::Tenant(_) => config.tenants.iter().map(|t| t.id.as_str()).collect(),
            Target::Alias(_) => config.aliases.iter().map(|a| a.name.as_str()).collect(),
            Target::Intent(name) => {
                let ok = name.len() <= 64
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
                if ok {
                    continue;
                }
                return Err(ActionError::new(
                    field,
                    "an intent is 1-64 characters from [A-Za-z0-9._-]",
                ));
            }
        };
        if !known.contains(&target.name()) {
            return Err(ActionError::new(
                field,
                format!(
                    "unknown {} {:?} (known: {})",
                    target.label(),
                    target.name(),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}
