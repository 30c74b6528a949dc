//! Owns the HTTP client every provider uses: hyper-util's pooled client over
//! rustls (platform verifier), with the request built from a pre-parsed
//! `Uri` and header map, so the hot path does no URL parsing, no redirect or
//! retry layers, and no per-request client state. Also owns reading answers
//! under the attempt's total deadline: bounded whole bodies, and byte
//! streams that end with a classified error when the deadline passes.
//!
//! Why not reqwest here: its per-request URL re-parsing (IDNA included),
//! redirect policy and retry layer were ~8 % of the gateway's CPU per
//! request in a profile (docs/benchmarks.md); the provider path needs none
//! of them. reqwest stays for the gateway's other outbound calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use signalbox_core::OutcomeClass;
use tokio::time::Instant;

use crate::chunk::{ByteStream, Chunk};
use crate::classify::UpstreamError;
use crate::scrub::Scrubber;

/// A pooled client over the provider's connector.
pub(crate) type HttpClient = Client<TimedConnector, Full<Bytes>>;

/// One provider's connection pools: one per thread that calls it.
///
/// Why per thread: a pooled HTTP/1 connection is driven by a task on the
/// runtime that opened it. When the gateway runs one single-threaded runtime
/// per core, a connection shared across threads would cost two cross-thread
/// wake-ups per request (the caller hands the request to the connection's
/// thread, which hands the answer back); a pool per thread keeps each
/// request on its own core. Under the work-stealing runtime it costs only a
/// few more idle connections (at most one pool per worker).
pub(crate) struct Pools {
    connector: TimedConnector,
    per_thread: thread_local::ThreadLocal<HttpClient>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools").finish_non_exhaustive()
    }
}

impl Pools {
    /// The calling thread's pool (created on its first request).
    pub(crate) fn get(&self) -> &HttpClient {
        self.per_thread.get_or(|| {
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_timer(TokioTimer::new())
                .build(self.connector.clone())
        })
    }
}

/// Builds the pools with `connect` as the connection setup timeout; HTTPS
/// through rustls with the platform's trust store (loaded once, shared by
/// every pool), HTTP/1.1 and HTTP/2 (ALPN).
pub(crate) fn build(connect: Duration) -> Result<Pools, String> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let tls = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| format!("TLS trust store: {e}"))?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Pools {
        connector: TimedConnector {
            inner: https,
            timeout: connect,
        },
        per_thread: thread_local::ThreadLocal::new(),
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Bounds the whole connection setup — TCP connect *and* TLS handshake —
/// by the provider's `connect` timeout (`HttpConnector`'s own timeout covers
/// TCP only). A setup that times out is a connect failure: the request was
/// never sent, so even an at-most-once request may move on.
#[derive(Clone)]
pub(crate) struct TimedConnector {
    inner: Https,
    timeout: Duration,
}

impl tower_service::Service<http::Uri> for TimedConnector {
    type Response = <Https as tower_service::Service<http::Uri>>::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "connection setup (TCP + TLS) took longer than {}ms",
                    timeout.as_millis()
                )
                .into()),
            }
        })
    }
}

/// Classifies a failure of the client before any answer arrived.
pub(crate) fn send_error(err: &hyper_util::client::legacy::Error) -> UpstreamError {
    // A connect timeout is a connect failure: the request never left, so
    // even an at-most-once request may move on.
    if err.is_connect() {
        return UpstreamError::new(
            OutcomeClass::Connect,
            format!("connect failed: {}", root_cause(err)),
        );
    }
    UpstreamError::new(
        OutcomeClass::ServerError,
        format!("transport error: {}", root_cause(err)),
    )
}

/// Classifies a failure while reading an answer's body.
pub(crate) fn body_error(err: &hyper::Error) -> UpstreamError {
    UpstreamError::new(
        OutcomeClass::BadResponse,
        format!("reading body failed: {}", root_cause(err)),
    )
}

/// Reads a whole body of at most `limit` bytes before `deadline`.
pub(crate) async fn read_limited(
    body: Incoming,
    limit: usize,
    deadline: Instant,
    total: Duration,
) -> Result<Bytes, UpstreamError> {
    let collect = Limited::new(body, limit).collect();
    match tokio::time::timeout_at(deadline, collect).await {
        Err(_) => Err(UpstreamError::timeout("total", total)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(UpstreamError::new(
            OutcomeClass::BadResponse,
            format!("response larger than {limit} bytes"),
        )),
        Ok(Err(e)) => Err(UpstreamError::new(
            OutcomeClass::BadResponse,
            format!("reading body failed: {}", root_cause(e.as_ref())),
        )),
    }
}

/// Reads at most `limit` bytes of a body before `deadline`, keeping what
/// arrived when the body fails or is longer (to explain a failure, a partial
/// body is still useful).
pub(crate) async fn read_bounded(body: Incoming, limit: usize, deadline: Instant) -> Vec<u8> {
    let mut stream = BodyDataStream::new(body);
    let mut buf = Vec::new();
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await {
        let room = limit.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= limit {
            break;
        }
    }
    buf
}

/// The body as a byte stream that fails with a `total` timeout at `deadline`.
/// With `scrubber` (a stream forwarded as the provider sent it), chunks
/// that carry an error are scrubbed of credentials ([`Scrubber::chunk`]).
pub(crate) fn byte_stream(
    body: Incoming,
    deadline: Instant,
    total: Duration,
    scrubber: Option<Arc<Scrubber>>,
) -> ByteStream {
    Deadline {
        inner: BodyDataStream::new(body),
        sleep: Box::pin(tokio::time::sleep_until(deadline)),
        total,
        done: false,
        scrubber,
    }
    .boxed()
}

/// A body stream bounded by the attempt's total deadline.
struct Deadline {
    inner: BodyDataStream<Incoming>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    total: Duration,
    done: bool,
    /// Set on the untranslated path, whose chunks reach the caller as is.
    scrubber: Option<Arc<Scrubber>>,
}

impl Stream for Deadline {
    type Item = Result<Chunk, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let chunk = match &this.scrubber {
                    Some(s) => s.chunk(chunk),
                    None => chunk,
                };
                return Poll::Ready(Some(Ok(Chunk::Data(chunk))));
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                return Poll::Ready(Some(Err(body_error(&e))));
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.done = true;
            return Poll::Ready(Some(Err(UpstreamError::timeout("total", this.total))));
        }
        Poll::Pending
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    crate::classify::truncate(&cur.to_string(), 200)
}
