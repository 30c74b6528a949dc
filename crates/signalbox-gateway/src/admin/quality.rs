//! Owns `GET /admin/quality/scores`: the scheduled runs' scores per route ×
//! model version × prompt version × suite × scorer × window, filtered by
//! any of them (`?route=&model_version=&prompt_version=&suite=&scorer=&since=`):
//! every replica's runs from the state backend (`"source": "shared"`), or
//! this replica's own when it cannot be reached (`"local"`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{Need, authorize};
use crate::AppState;
use crate::quality::ScoreFilter;

/// `GET /admin/quality/scores`
pub async fn scores(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filter): Query<ScoreFilter>,
) -> Response {
    if let Err(r) = authorize(&state, &headers, Need::Read) {
        return *r;
    }
    let window = state.runtime.load().config.quality.score_window.as_secs();
    let (scores, source) = crate::quality::scores_query(&state, &filter).await;
    Json(serde_json::json!({
        "window_secs": window,
        "source": source,
        "scores": scores,
    }))
    .into_response()
}
