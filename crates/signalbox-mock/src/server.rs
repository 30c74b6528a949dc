//! Owns the HTTP router and the handler's pipeline (chat and embeddings
//! alike): record, fault, answer.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::watch;

use signalbox_adapters::mock::{Answer, MockWire};

use crate::calls::{CallOutcome, CallSlot, StreamEnd};
use crate::control::{self, MockControl};
use crate::faults::{Decision, Faults};
use crate::format::MockFormat;
use crate::handle::MockOptions;
use crate::reshape;
use crate::stats::{Counters, InFlight};
use crate::stream;

/// Largest chat request body accepted.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The request id the call log keeps (the gateway sends the caller's on).
const REQUEST_ID: &str = "x-request-id";

/// OpenAI's rate-limit reset header (`rate_limit_reset_secs`).
const RESET_REQUESTS: &str = "x-ratelimit-reset-requests";

/// Header naming the mock instance on every response.
const MOCK_NAME: &str = "x-mock-name";

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

/// State shared by all handlers and the control handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    name_header: HeaderValue,
    stream_chunks: u32,
    chunk_delay: Duration,
    /// Read lock-free on every request; replaced whole by the control API.
    pub(crate) faults: ArcSwap<Faults>,
    pub(crate) counters: Arc<Counters>,
    /// Flips to `true` once shutdown begins; releases hanging requests.
    shutdown: watch::Sender<bool>,
    models: Bytes,
    /// The provider wire format spoken (from the kind's folder in `signalbox-adapters`).
    wire: &'static dyn MockWire,
}

impl Shared {
    /// Starts shutdown: hanging requests return and the server stops accepting.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once shutdown has begun.
    pub(crate) async fn shutdown_begun(&self) {
        let mut rx = self.shutdown.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|begun| *begun).await;
    }

    /// A response with the mock's name header.
    pub(crate) fn respond(
        &self,
        status: StatusCode,
        content_type: HeaderValue,
        body: impl Into<Body>,
    ) -> Response {
        let mut response = Response::new(body.into());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(MOCK_NAME, self.name_header.clone());
        response
    }

    /// An error response in the mock's wire format.
    fn error(&self, status: StatusCode, message: &str) -> Response {
        self.respond(status, JSON, self.wire.error_body(status, message))
    }
}

/// Builds the mock's router (OpenAI format) and the handle controlling it.
pub fn router(options: MockOptions) -> (Router, MockControl) {
    router_as(options, MockFormat::OpenAi)
}

/// Builds a router speaking `format` and the handle controlling it.
pub fn router_as(options: MockOptions, format: MockFormat) -> (Router, MockControl) {
    let MockOptions {
        name,
        stream_chunks,
        chunk_delay_ms,
    } = options;
    let name_header =
        HeaderValue::from_str(&name).unwrap_or(HeaderValue::from_static("invalid-name"));
    let wire = format.wire();
    let models = wire.models_body(&name).unwrap_or_default();
    let shared = Arc::new(Shared {
        name,
        name_header,
        stream_chunks,
        chunk_delay: Duration::from_millis(chunk_delay_ms),
        faults: ArcSwap::from_pointee(Faults::default()),
        counters: Arc::default(),
        shutdown: watch::Sender::new(false),
        models,
        wire,
    });
    let mut dialect = Router::new();
    for path in wire.chat_paths() {
        dialect = dialect.route(path, post(chat));
    }
    for path in wire.embeddings_paths() {
        dialect = dialect.route(path, post(chat));
    }
    for path in wire.models_paths() {
        dialect = dialect.route(path, get(list_models));
    }
    let dialect = dialect.fallback(not_found);
    let router = dialect.merge(control::routes()).with_state(shared.clone());
    (router, MockControl::new(shared))
}

async fn list_models(State(shared): State<Arc<Shared>>) -> Response {
    shared.respond(StatusCode::OK, JSON, shared.models.clone())
}

async fn not_found(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let message = format!(
        "mock: no route for {} {}",
        request.method(),
        request.uri().path()
    );
    shared.error(StatusCode::NOT_FOUND, &message)
}

/// One chat request, in the order the mock's pipeline sees it.
async fn chat(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Read the whole body first: stats record it even when a fault answers.
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let counters = &shared.counters;
    let request_id = counters
        .calls
        .is_on()
        .then(|| {
            parts
                .headers
                .get(REQUEST_ID)?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .flatten();
    let n = counters.record_request(parts.headers, body.as_ref().cloned().unwrap_or_default());
    let call = counters.calls.push(n, request_id);
    let in_flight = InFlight::new(counters.clone());
    let Ok(body) = body else {
        counters.calls.set(call, CallOutcome::Invalid);
        return shared.error(
            StatusCode::BAD_REQUEST,
            "mock: could not read the request body",
        );
    };
    let faults = shared.faults.load_full();
    let decision = match &faults.fail_when_body_contains {
        Some(text) if contains(&body, text.as_bytes()) => Decision::Error {
            status: faults.error_status,
        },
        _ => faults.decide(n, counters.since_faults_set(n)),
    };
    let logged = match decision {
        Decision::Hang => CallOutcome::Hung,
        Decision::Reset => CallOutcome::Reset,
        Decision::RateLimit { retry_after_secs } => CallOutcome::RateLimited { retry_after_secs },
        Decision::RateLimitReset { reset_secs } => {
            CallOutcome::RateLimitedUntilReset { reset_secs }
        }
        Decision::Error { status } => CallOutcome::Error { status },
        Decision::Answer { .. } => CallOutcome::Pending,
    };
    counters.calls.set(call, logged);
    match decision {
        Decision::Hang => {
            counters.hangs.fetch_add(1, Relaxed);
            // Until the client goes away (hyper drops this future) or the server shuts down.
            shared.shutdown_begun().await;
            shared.error(StatusCode::SERVICE_UNAVAILABLE, "mock: shutting down")
        }
        Decision::Reset
        | Decision::RateLimit { .. }
        | Decision::RateLimitReset { .. }
        | Decision::Error { .. } => {
            counters.errors_injected.fetch_add(1, Relaxed);
            refuse(&shared, &faults, decision)
        }
        Decision::Answer { latency } => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let request = (&parts.uri, &body[..]);
            let (response, outcome) = answer(&shared, &faults, (n, call), request, in_flight);
            counters.calls.set(call, outcome);
            response
        }
    }
}

/// The answer to a request a fault refuses: a reset, a 429 (with
/// `retry-after` or a reset header) or an injected error.
fn refuse(shared: &Shared, faults: &Faults, decision: Decision) -> Response {
    match decision {
        Decision::RateLimit { retry_after_secs } => {
            let message = format!("mock: rate limit reached, retry after {retry_after_secs}s");
            let mut response = shared.error(StatusCode::TOO_MANY_REQUESTS, &message);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Decision::RateLimitReset { reset_secs } => {
            let message = format!("mock: rate limit reached, resets in {reset_secs}s");
            let mut response = shared.error(StatusCode::TOO_MANY_REQUESTS, &message);
            if let Ok(reset) = HeaderValue::from_str(&format!("{reset_secs}s")) {
                response.headers_mut().insert(RESET_REQUESTS, reset);
            }
            response
        }
        Decision::Error { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = shared.wire.error_body(status, "mock: injected error");
            shared.respond(status, JSON, reshape::error_ids(faults, body))
        }
        // `Hang` and `Answer` are not refusals and never come here.
        Decision::Reset | Decision::Hang | Decision::Answer { .. } => reset(shared),
    }
}

/// A response whose body fails before its first byte: hyper has only
/// buffered the head when the error comes, so it drops the connection
/// without writing it, and the caller sees a reset instead of a status.
fn reset(shared: &Shared) -> Response {
    let failed = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "mock: connection reset by fault",
        ))
    });
    shared.respond(StatusCode::OK, JSON, Body::from_stream(failed))
}

/// Whether `body` contains `text` (an empty text is in every body).
fn contains(body: &[u8], text: &[u8]) -> bool {
    text.is_empty() || body.windows(text.len()).any(|w| w == text)
}

/// The 200 answer to an embeddings request (deterministic vectors), or a
/// 400 for a body the format cannot read. The faults decided before this
/// apply alike; of the answer-shaping ones, a malformed body and rewritten
/// error ids do (streams have no embeddings counterpart).
fn embeddings(
    shared: &Shared,
    faults: &Faults,
    (uri, body): (&Uri, &[u8]),
) -> (Response, CallOutcome) {
    if faults.malformed_json {
        let response = shared.respond(StatusCode::OK, JSON, shared.wire.malformed_body());
        shared.counters.responses_ok.fetch_add(1, Relaxed);
        return (response, CallOutcome::Json);
    }
    match shared.wire.render_embeddings(uri, body) {
        Ok(answer) => {
            shared.counters.responses_ok.fetch_add(1, Relaxed);
            let response = shared.respond(StatusCode::OK, JSON, answer);
            (response, CallOutcome::Json)
        }
        Err(message) => (
            shared.error(StatusCode::BAD_REQUEST, &message),
            CallOutcome::Invalid,
        ),
    }
}

/// The 200 answer (or 400 for a body the format cannot parse).
fn answer(
    shared: &Shared,
    faults: &Faults,
    (n, call): (u64, Option<CallSlot>),
    (uri, body): (&Uri, &[u8]),
    in_flight: InFlight,
) -> (Response, CallOutcome) {
    if shared.wire.is_embeddings(uri) {
        return embeddings(shared, faults, (uri, body));
    }
    let parsed = match shared.wire.parse_request(uri, body) {
        Ok(parsed) => parsed,
        Err(message) => {
            let response = shared.error(StatusCode::BAD_REQUEST, &message);
            return (response, CallOutcome::Invalid);
        }
    };
    let mut answer = Answer::to(parsed.prompt, &shared.name);
    let quality = match &faults.quality_when_body_contains {
        Some(text) if !contains(body, text.as_bytes()) => None,
        _ => faults.quality,
    };
    crate::quality::shape(quality, &mut answer, &shared.name);
    let rendered = if parsed.stream {
        let events = if faults.malformed_json {
            Ok(shared.wire.malformed_events())
        } else {
            let pieces = faults.stream_chunks.unwrap_or(shared.stream_chunks);
            shared
                .wire
                .render_events(&parsed.request, &answer, n, pieces)
        };
        events.map(|events| {
            let plan = stream::Plan {
                events: reshape::events(faults, events),
                delay: faults
                    .chunk_delay_ms
                    .map_or(shared.chunk_delay, Duration::from_millis),
                cut_after: faults.cut_stream_after,
                end_after: faults.end_stream_after,
                stall_after: faults.stall_stream_after,
                first_delay: faults.first_event_delay_ms.map(Duration::from_millis),
                call,
            };
            let mut response =
                shared.respond(StatusCode::OK, EVENT_STREAM, stream::body(plan, in_flight));
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        })
    } else if faults.malformed_json {
        Ok(shared.respond(StatusCode::OK, JSON, shared.wire.malformed_body()))
    } else {
        shared
            .wire
            .render_body(&parsed.request, &answer, n)
            .map(|body| shared.respond(StatusCode::OK, JSON, reshape::body(faults, body)))
    };
    match rendered {
        Ok(response) => {
            shared.counters.responses_ok.fetch_add(1, Relaxed);
            let outcome = if parsed.stream {
                CallOutcome::Stream(StreamEnd::Running)
            } else {
                CallOutcome::Json
            };
            (response, outcome)
        }
        Err(error) => {
            let message = format!("mock: could not render the answer: {error}");
            let response = shared.error(StatusCode::INTERNAL_SERVER_ERROR, &message);
            (response, CallOutcome::Invalid)
        }
    }
}
