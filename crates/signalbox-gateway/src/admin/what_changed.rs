//! Owns `GET /admin/what-changed?since=&until=&alias=` (any role): the
//! window `[since, until)` compared with the one of the same length just
//! before it, the differences ranked (the decision log's
//! `LogReader::what_changed`, which `signalbox what-changed` prints too),
//! and `GET /admin/config-versions/{version}`: the configuration text a
//! policy version ran, as kept (secrets only as their references).
//! A time is RFC 3339, milliseconds since the epoch, or a duration ago
//! (`30m`); a bad one, or a window that ends before it starts, is a 400
//! naming the parameter.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use signalbox_decision_log::Span;

use super::auth::{Need, authorize};
use super::{admin_error, fresh_reader};
use crate::AppState;

/// The longest window compared (and so its baseline), so one call cannot
/// make the log scan months twice.
const MAX_WINDOW_MS: u64 = 31 * 86_400_000;

/// The query of `GET /admin/what-changed`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WhatChangedQuery {
    since: Option<String>,
    until: Option<String>,
    alias: Option<String>,
}

/// `GET /admin/what-changed`: `{before_window, after_window, before,
/// after, changes: [{kind, what, at_ms?, detail?}]}`.
pub(crate) async fn what_changed(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<WhatChangedQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let Query(q) = match query {
        Ok(q) => q,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "invalid_query", &e.body_text()),
    };
    let (before, after) = match windows(&q, signalbox_core::clock::unix_ms()) {
        Ok(w) => w,
        Err((param, message)) => return invalid(param, &message),
    };
    let reader = match fresh_reader(&state).await {
        Ok(r) => r,
        Err(refusal) => return *refusal,
    };
    match reader.what_changed_async(before, after, q.alias).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ),
    }
}

/// `GET /admin/config-versions/{version}`: `{version, text}`, 404 when
/// that version's text was not kept.
pub(crate) async fn config_version(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let reader = match fresh_reader(&state).await {
        Ok(r) => r,
        Err(refusal) => return *refusal,
    };
    match reader.config_text_async(version.clone()).await {
        Ok(Some(text)) => {
            Json(serde_json::json!({"version": version, "text": text})).into_response()
        }
        Ok(None) => admin_error(
            StatusCode::NOT_FOUND,
            "config_version_not_found",
            &format!("no configuration text is kept for policy version {version:?}"),
        ),
        Err(e) => admin_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decision_log_error",
            &e.to_string(),
        ),
    }
}

/// (before, after) from the query: `since` defaults to 30 minutes ago,
/// `until` to now. An error names the parameter at fault.
fn windows(q: &WhatChangedQuery, now: u64) -> Result<(Span, Span), (&'static str, String)> {
    let since = match &q.since {
        Some(t) => time(t, now).map_err(|m| ("since", m))?,
        None => now.saturating_sub(30 * 60_000),
    };
    let until = match &q.until {
        Some(t) => time(t, now).map_err(|m| ("until", m))?,
        None => now,
    };
    if until.saturating_sub(since) > MAX_WINDOW_MS {
        return Err(("since", "the window is longer than 31 days".to_owned()));
    }
    Span::with_baseline(since, until).map_err(|e| ("until", e.to_string()))
}

/// A time: milliseconds since the epoch, RFC 3339, or a duration ago.
fn time(text: &str, now: u64) -> Result<u64, String> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(u64::try_from(ago.as_millis()).unwrap_or(u64::MAX)));
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .ok_or_else(|| {
            format!(
                "{text:?} is neither a time (2026-12-06T14:05:00Z, or ms since the epoch) nor a duration ago (30m)"
            )
        })
}

fn invalid(param: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {
        "message": format!("{param}: {message}"), "type": "admin_error",
        "code": "invalid_window", "param": param,
    }});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(since: Option<&str>, until: Option<&str>) -> WhatChangedQuery {
        WhatChangedQuery {
            since: since.map(str::to_owned),
            until: until.map(str::to_owned),
            alias: None,
        }
    }

    #[test]
    fn times_are_ms_rfc3339_or_ago_and_a_bad_window_names_its_parameter() {
        let now = 1_765_030_000_000;
        let (before, after) = windows(&q(None, None), now).unwrap();
        assert_eq!((after.since_ms, after.until_ms), (now - 1_800_000, now));
        assert_eq!(before.until_ms, after.since_ms);
        let (_, after) =
            windows(&q(Some("2025-12-06T14:00:00Z"), Some("1765030000000")), now).unwrap();
        assert_eq!((after.since_ms, after.until_ms), (1_765_029_600_000, now));
        assert_eq!(windows(&q(Some("soon"), None), now).unwrap_err().0, "since");
        assert_eq!(
            windows(&q(None, Some("later")), now).unwrap_err().0,
            "until"
        );
        let (param, message) = windows(&q(Some("10m"), Some("20m")), now).unwrap_err();
        assert_eq!(param, "until");
        assert!(message.contains("is not after its start"), "{message}");
        assert_eq!(windows(&q(Some("60d"), None), now).unwrap_err().0, "since");
    }
}
