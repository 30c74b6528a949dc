//! The admin credentials: the full-rights `admin.token` and the named
//! `admin.tokens` with their roles (read-only, operator scoped by action
//! kind). Only SHA-256 hashes are kept; a token used twice is an error, so
//! a call always names one holder.

use std::collections::HashMap;

use signalbox_core::operator::Role;

use super::provider::validate_api_key;
use super::{Errors, FirstSeen, check_name};
use crate::model::{AdminConfig, AdminToken};
use crate::raw::{RawAdmin, RawAdminToken};
use crate::secret::hash_secret;
use crate::vars::VarSource;

#[cfg(test)]
mod tests;

pub(super) fn validate_admin(
    raw: Option<RawAdmin>,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> AdminConfig {
    let Some(RawAdmin { token, tokens }) = raw else {
        return AdminConfig::default();
    };
    let token_hash = validate_api_key(token, "admin.token", vars, errors)
        .map(|secret| hash_secret(secret.expose()));
    let mut owners: HashMap<[u8; 32], String> = HashMap::new();
    if let Some(h) = token_hash {
        owners.insert(h, "admin.token".into());
    }
    let raw_tokens = tokens.unwrap_or_default();
    let names: Vec<String> = raw_tokens.iter().map(|t| t.name.0.clone()).collect();
    let mut seen = FirstSeen::default();
    let mut out = Vec::with_capacity(raw_tokens.len());
    for (i, (raw, name)) in raw_tokens.into_iter().zip(&names).enumerate() {
        let path = format!("admin.tokens[{i}]");
        if check_name(errors, &format!("{path}.name"), "token name", name) {
            seen.check(
                errors,
                &format!("{path}.name"),
                "token name",
                name,
                "admin.tokens",
                i,
            );
        }
        if let Some(t) = validate_token(raw, &path, vars, &mut owners, errors) {
            out.push(t);
        }
    }
    AdminConfig {
        token_hash,
        tokens: out,
    }
}

fn validate_token(
    raw: RawAdminToken,
    path: &str,
    vars: &dyn VarSource,
    owners: &mut HashMap<[u8; 32], String>,
    errors: &mut Errors,
) -> Option<AdminToken> {
    let RawAdminToken {
        name,
        role,
        token,
        actions,
    } = raw;
    if role == Role::Admin {
        errors.push(
            format!("{path}.role"),
            "`admin` is admin.token's role; named tokens are read-only or operator",
        );
    }
    match &actions {
        Some(kinds) if role != Role::Operator => errors.push(
            format!("{path}.actions"),
            format!(
                "only an operator token takes actions ({} given to a {} token)",
                kinds.len(),
                role.label()
            ),
        ),
        Some(kinds) if kinds.is_empty() => errors.push(
            format!("{path}.actions"),
            "must not be empty (omit it to allow every kind)",
        ),
        _ => {}
    }
    let key_path = format!("{path}.token");
    let secret = validate_api_key(Some(token), &key_path, vars, errors)?;
    let hash = hash_secret(secret.expose());
    if let Some(owner) = owners.get(&hash) {
        errors.push(
            key_path,
            format!("the same token is already used by {owner}"),
        );
        return None;
    }
    owners.insert(hash, format!("admin.tokens {}", name.0));
    Some(AdminToken {
        name: name.0,
        role,
        hash,
        actions,
    })
}
