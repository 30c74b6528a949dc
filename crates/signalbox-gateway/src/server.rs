//! Owns the HTTP surface: the router, the operational endpoints
//! (`/healthz`, `/readyz`, `/metrics`, `/v1/models`, `/v1/models/{id}`),
//! and serving with
//! graceful shutdown (the accept loop itself is `conn`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;

use crate::AppState;
use crate::ingress::request_id_header;
use crate::pipeline::chat_completions;
use crate::respond::ApiError;
use signalbox_core::WireFormat;
use signalbox_core::headers::REQUEST_ID;

/// Builds the router over shared state.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(crate::anthropic::messages))
        .route(
            "/v1/messages/count_tokens",
            post(crate::anthropic::count_tokens),
        )
        .route("/v1/responses", post(crate::responses::responses))
        .route("/v1/completions", post(crate::responses::completions))
        .route("/v1/embeddings", post(crate::embeddings::embeddings))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::admin::router(Arc::clone(&state)))
        .merge(crate::dashboard::router())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        // Lints forbid panics on request paths; this is the last line of
        // defence so a bug answers 500 instead of dropping the connection.
        .layer(CatchPanicLayer::custom(|_| crate::entry::panicked()))
        .with_state(state)
}

/// The aliases as models (`GET /v1/models`), authenticated as chat is
/// (401 without a valid key unless anonymous access is on): tenants have
/// no per-alias rights, so every caller that may chat sees every alias.
async fn models(State(state): State<Arc<AppState>>, headers: axum::http::HeaderMap) -> Response {
    let rt = state.runtime.load();
    if let Err(e) = signalbox_policy::authenticate(&rt.policy, &headers) {
        return policy_error(e, &headers);
    }
    let mut resp = Response::new(Body::from(rt.models_body.clone()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// One alias as a model (`GET /v1/models/{id}`), or 404 naming the known
/// ones; authenticated as `GET /v1/models` is.
async fn model(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let rt = state.runtime.load();
    if let Err(e) = signalbox_policy::authenticate(&rt.policy, &headers) {
        return policy_error(e, &headers);
    }
    if rt.policy.model_names().any(|m| m == id) {
        let model =
            serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "signalbox"});
        return json(StatusCode::OK, model);
    }
    policy_error(
        signalbox_policy::PolicyError::UnknownModel {
            known: rt.policy.model_names().collect::<Vec<_>>().join(", "),
            model: id,
        },
        &headers,
    )
}

/// A policy error (unknown key, unknown model) in OpenAI's shape, with the
/// request id.
fn policy_error(e: signalbox_policy::PolicyError, headers: &axum::http::HeaderMap) -> Response {
    let request_id = request_id_header(headers);
    let mut resp = ApiError::Policy(e).into_response(request_id.to_str().unwrap_or("-"));
    resp.headers_mut().insert(REQUEST_ID, request_id);
    resp
}

async fn healthz() -> Response {
    json(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// Ready once every serving thread has warmed up (`warm.rs`) and some route
/// is usable.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let rt = state.runtime.load();
    let usable = rt.usable_routes();
    let (status, label) = if !state.readiness.is_warm() {
        (StatusCode::SERVICE_UNAVAILABLE, "warming")
    } else if usable > 0 {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = serde_json::json!({
        "status": label,
        "policy_version": rt.config.version,
        "routes": rt.routes.len(),
        "usable_routes": usable,
    });
    json(status, body)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    if let Some(log) = &state.decision_log {
        let s = log.stats();
        state
            .telemetry
            .decision_log(s.written, s.dropped, s.write_errors);
    }
    state.telemetry.route_health(&state.runtime.load());
    state
        .telemetry
        .quality_mark_fallbacks(state.quality_state.marks.failures());
    state
        .telemetry
        .connections_open(state.connections.open(), state.connections.max());
    let mut resp = Response::new(Body::from(state.telemetry.render()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

async fn not_found(method: Method, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    // Anthropic clients get their own error shape under their path.
    let format = if crate::anthropic::is_messages_path(uri.path()) {
        WireFormat::Anthropic
    } else {
        WireFormat::OpenAi
    };
    let id = request_id_header(&headers);
    let mut resp = ApiError::NotFound {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
    .into_response_in(id.to_str().unwrap_or("-"), format);
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The `worker` label of connections accepted by a single listener.
pub(crate) const SHARED_WORKER: &str = "shared";

/// Drains histogram buffers every few seconds, for as long as the task runs.
pub(crate) fn spawn_upkeep(state: &Arc<AppState>) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            state.telemetry.upkeep();
        }
    })
}

/// A gateway running on a background task (tests, the demo).
#[derive(Debug)]
pub struct GatewayHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    gateway: crate::Gateway,
}

impl GatewayHandle {
    pub(crate) fn new(
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
        gateway: crate::Gateway,
    ) -> Self {
        Self {
            addr,
            stop: Some(stop),
            task,
            gateway,
        }
    }

    /// The running gateway (reload, decision log).
    pub fn gateway(&self) -> &crate::Gateway {
        &self.gateway
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits (bounded) for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {

    use axum::body::to_bytes;
    use tower_service::Service;

    use super::*;

    const CONFIG: &str = r#"
providers:
  - name: p
    kind: openai-compatible
    base-url: http://127.0.0.1:9/v1
routes:
  - id: r
    provider: p
    model: m
    region: us
aliases:
  - name: chat
    routes: [r]
decision-log:
  enabled: false
"#;

    async fn readyz_of(state: &Arc<AppState>) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::get("/readyz")
            .body(Body::empty())
            .unwrap();
        // A router is always ready: no need to poll it first.
        let resp = router(state.clone()).call(request).await.unwrap();
        let status = resp.status();
        let body = to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn readyz_waits_for_every_serving_thread_to_warm_up() {
        let config = signalbox_testkit::config(CONFIG, Vec::new());
        let gateway = crate::Gateway::new(config).unwrap();
        let state = gateway.state.clone();
        state.readiness.expect(2);
        for _ in 0..2 {
            let (status, body) = readyz_of(&state).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body["status"], "warming", "{body}");
            state.readiness.warmed();
        }
        let (status, body) = readyz_of(&state).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ready", "{body}");
    }
}
