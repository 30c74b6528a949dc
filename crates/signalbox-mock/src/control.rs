//! Owns runtime control of a mock: faults, stats and reset, in-process and over `/_mock/*`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use crate::calls::Call;
use crate::faults::Faults;
use crate::server::Shared;
use crate::stats::Stats;
use signalbox_adapters::mock::MockWire;
use signalbox_adapters::openai::mock::OpenAi;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// In-process control of one mock's faults and stats (what `/_mock/*` does over HTTP).
#[derive(Clone, Debug)]
pub struct MockControl {
    shared: Arc<Shared>,
}

impl MockControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.store(Arc::new(faults));
        self.shared.counters.faults_set();
    }

    /// Starts (or stops) logging every chat request ([`Self::calls`]).
    pub fn log_calls(&self, on: bool) {
        self.shared.counters.calls.enable(on);
    }

    /// The chat requests logged since logging started (or the last reset).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.counters.calls.snapshot()
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        Faults::clone(&self.shared.faults.load())
    }

    /// A snapshot of the counters and the last request.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot(&self.shared.name)
    }

    /// Clears the faults and the stats (the `in_flight` gauge keeps counting live requests).
    pub fn reset(&self) {
        self.set_faults(Faults::default());
        self.shared.counters.reset();
    }
}

/// The `/_mock/*` routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/faults", get(get_faults).post(post_faults))
        .route("/_mock/stats", get(get_stats))
        .route("/_mock/reset", post(post_reset))
}

fn json(shared: &Shared, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => shared.respond(StatusCode::OK, JSON, body),
        Err(error) => {
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            shared.respond(status, JSON, OpenAi.error_body(status, &error.to_string()))
        }
    }
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    json(&shared, &*shared.faults.load_full())
}

async fn post_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            let response = json(&shared, &faults);
            MockControl::new(shared.clone()).set_faults(faults);
            response
        }
        Err(error) => {
            let status = StatusCode::BAD_REQUEST;
            let message = format!("mock: invalid faults: {error}");
            shared.respond(status, JSON, OpenAi.error_body(status, &message))
        }
    }
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    json(&shared, &shared.counters.snapshot(&shared.name))
}

async fn post_reset(State(shared): State<Arc<Shared>>) -> Response {
    MockControl::new(shared.clone()).reset();
    json(&shared, &shared.counters.snapshot(&shared.name))
}
