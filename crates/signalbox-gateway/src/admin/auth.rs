//! Owns who may call the admin API. A bearer token is hashed once (SHA-256)
//! and compared with every configured token hash in constant time (no
//! early exit, no comparison that stops at the first differing byte), so
//! timing says nothing about how close a guess was. The match names the
//! caller (`Actor`: the token's name and role), which every audited call
//! and every operator action records; the token itself is never stored or
//! logged.
//!
//! Roles: `read-only` reads (routes, decisions, actions, audit);
//! `operator` also creates and reverts actions of its permitted kinds;
//! `admin` (`admin.token`) does everything, reload included.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use signalbox_config::AdminConfig;
use signalbox_core::operator::{ActionKind, Actor, Role};

use super::admin_error;
use crate::AppState;

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Look only.
    Read,
    /// Create or revert an action of this kind.
    Act(ActionKind),
    /// Reload the configuration.
    Reload,
}

/// A caller with a valid admin token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Who, as recorded.
    pub actor: Actor,
    /// The kinds an operator may act on (`None`: every kind).
    scope: Option<Vec<ActionKind>>,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No token is configured.
    Disabled,
    /// No bearer token was sent.
    Missing,
    /// The token matches none.
    Invalid,
}

/// The caller the request's bearer token names.
pub(crate) fn identify(admin: &AdminConfig, headers: &HeaderMap) -> Result<Caller, Refusal> {
    if !admin.enabled() {
        return Err(Refusal::Disabled);
    }
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(signalbox_core::headers::bearer_token)
        .ok_or(Refusal::Missing)?;
    let given: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    // Every hash is compared, whatever matched first.
    if let Some(hash) = &admin.token_hash
        && ct_eq(&given, hash)
    {
        found = Some(Caller {
            actor: Actor {
                name: "admin".into(),
                role: Role::Admin,
            },
            scope: None,
        });
    }
    for t in &admin.tokens {
        if ct_eq(&given, &t.hash) && found.is_none() {
            found = Some(Caller {
                actor: Actor {
                    name: t.name.clone(),
                    role: t.role,
                },
                scope: t.actions.clone(),
            });
        }
    }
    found.ok_or(Refusal::Invalid)
}

/// Equality of two hashes in time independent of where they differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The caller, when its token allows `need`; else the refusal to send
/// (401 without a valid token, 403 when its role or scope does not allow it).
pub(crate) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    need: Need,
) -> Result<Caller, Box<Response>> {
    let rt = state.runtime.load();
    let caller = identify(&rt.config.admin, headers).map_err(|r| Box::new(refused(&r)))?;
    caller.allows(need)?;
    Ok(caller)
}

impl Caller {
    /// Whether this caller may do `need`; the 403 naming why not.
    pub(crate) fn allows(&self, need: Need) -> Result<(), Box<Response>> {
        let Actor { name, role } = &self.actor;
        let forbidden = |message: String| {
            Err(Box::new(admin_error(
                StatusCode::FORBIDDEN,
                "forbidden_role",
                &message,
            )))
        };
        match need {
            Need::Read => Ok(()),
            Need::Reload if *role == Role::Admin => Ok(()),
            Need::Reload => forbidden(format!(
                "token {name} is {}: only the admin token (admin.token) may reload",
                role.label()
            )),
            Need::Act(_) if *role == Role::ReadOnly => forbidden(format!(
                "token {name} is read-only: it may look, not act (use an operator token)"
            )),
            Need::Act(kind) => match &self.scope {
                Some(kinds) if !kinds.contains(&kind) => {
                    let allowed: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
                    forbidden(format!(
                        "token {name} may not {kind} (its actions: {})",
                        allowed.join(", ")
                    ))
                }
                _ => Ok(()),
            },
        }
    }
}

fn refused(r: &Refusal) -> Response {
    match r {
        Refusal::Disabled => admin_error(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is disabled: set admin.token or admin.tokens",
        ),
        Refusal::Missing => admin_error(
            StatusCode::UNAUTHORIZED,
            "missing_admin_token",
            "send the admin token as `Authorization: Bearer <token>`",
        ),
        Refusal::Invalid => admin_error(
            StatusCode::UNAUTHORIZED,
            "invalid_admin_token",
            "invalid admin token",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_hashes_only() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!ct_eq(&a, &b));
    }
}
