//! Owns the server's entry service: `POST /v1/chat/completions`, the hot
//! path, goes straight to the pipeline; every other request goes to the
//! router. The router also serves chat completions (in-process users call
//! it directly), so both paths run the same handler.
//!
//! Why not the router alone: for each request it inserts the matched path
//! and URL parameters into the request's extensions, clones the header map
//! for the handler, and boxes the handler's future and the response body
//! once more for the panic guard — about ten allocations and a few
//! microseconds of CPU per request that the hot path does not need.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request};
use axum::response::Response;
use futures::FutureExt;
use futures::future::BoxFuture;
use tower_service::Service;

use crate::AppState;
use crate::pipeline::chat_completions;
use crate::respond::ApiError;

/// The chat completions path served without the router.
const CHAT_PATH: &str = "/v1/chat/completions";

/// The service each connection runs: see the module docs.
#[derive(Clone)]
pub(crate) struct Entry {
    state: Arc<AppState>,
    router: Router,
}

impl Entry {
    pub(crate) fn new(state: Arc<AppState>, router: Router) -> Self {
        Self { state, router }
    }
}

impl Service<Request<Body>> for Entry {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Neither path applies backpressure here (the router is always ready).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if req.method() == Method::POST && req.uri().path() == CHAT_PATH {
            let state = self.state.clone();
            let (parts, body) = req.into_parts();
            // The same last line of defence as the router's panic layer: a
            // bug answers 500 instead of dropping the connection.
            Box::pin(async move {
                let response =
                    AssertUnwindSafe(chat_completions(State(state), parts.headers, body))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| panicked());
                Ok(response)
            })
        } else {
            Box::pin(self.router.call(req))
        }
    }
}

/// The answer when a handler panicked.
pub(crate) fn panicked() -> Response {
    ApiError::Internal("unexpected panic".into()).into_response("-")
}
