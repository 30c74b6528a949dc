//! The `state` section.

use super::Errors;
use super::provider::validate_api_key;
use crate::model::{StateBackend, StateBackendKind, StateConfig};
use crate::raw::RawState;
use crate::vars::VarSource;

pub(super) fn validate_state(
    raw: Option<RawState>,
    vars: &dyn VarSource,
    errors: &mut Errors,
) -> StateConfig {
    let defaults = StateConfig::default();
    let Some(RawState {
        backend,
        redis_url,
        key_prefix,
    }) = raw
    else {
        return defaults;
    };
    let key_prefix = match key_prefix {
        Some(p) if p.as_str().is_empty() || p.as_str().chars().any(char::is_whitespace) => {
            errors.push(
                "state.key-prefix",
                "must be non-empty and contain no whitespace",
            );
            defaults.key_prefix
        }
        Some(p) => p.0,
        None => defaults.key_prefix,
    };
    let backend = match backend.unwrap_or(StateBackendKind::Memory) {
        StateBackendKind::Memory => {
            if redis_url.is_some() {
                errors.push(
                    "state.redis-url",
                    "only used with backend: redis (the backend is memory)",
                );
            }
            StateBackend::Memory
        }
        StateBackendKind::Redis => {
            if redis_url.is_none() {
                errors.push(
                    "state.redis-url",
                    "required with backend: redis; use {env: VAR} or {file: PATH}",
                );
            }
            match validate_api_key(redis_url, "state.redis-url", vars, errors) {
                Some(url) => {
                    let u = url.expose();
                    if !(u.starts_with("redis://") || u.starts_with("redis+unix://")) {
                        // Never echo the value: it may carry a password.
                        errors.push("state.redis-url", "must be a redis:// or redis+unix:// URL");
                    }
                    StateBackend::Redis { url }
                }
                None => StateBackend::Memory,
            }
        }
    };
    StateConfig {
        backend,
        key_prefix,
    }
}
