//! Owns the accept loop of one listener: the connection cap, per-connection
//! deadlines, serving with hyper (HTTP/1 and HTTP/2), and graceful drain.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use signalbox_state::RateLimitedWarn;

use super::limit::ConnPermit;
use super::sniff::{Protocol, sniff};
use super::watch::{Activity, Deadlines, Tracked, Watched};
use crate::AppState;
use crate::entry::Entry;
use crate::telemetry::ClientTimeout;

/// How long accepting pauses after an error that is not the client's
/// (out of descriptors, out of memory), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection of one listener shares.
struct Shared {
    state: Arc<AppState>,
    entry: Entry,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// For a connection whose first bytes could still be either (`sniff`).
    auto: auto::Builder<TokioExecutor>,
    stop: CancellationToken,
    header_expired: metrics::Counter,
    idle_expired: metrics::Counter,
}

/// Serves `listener` until `shutdown` resolves; then stops accepting, asks
/// every open connection to finish (HTTP/1: after its response in flight;
/// HTTP/2: GOAWAY) and waits for them. `worker` labels its connections.
pub(crate) async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    worker: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let accepted = state.telemetry.connections(worker);
    let accept_errors = RateLimitedWarn::default();
    let shared = Arc::new(Shared {
        entry: Entry::new(state.clone(), crate::server::router(state.clone())),
        header_expired: state.telemetry.client_timeout(ClientTimeout::Header),
        idle_expired: state.telemetry.client_timeout(ClientTimeout::Idle),
        state,
        http1: http1::Builder::new(),
        http2: http2::Builder::new(TokioExecutor::new()),
        auto: auto::Builder::new(TokioExecutor::new()),
        stop: CancellationToken::new(),
    });
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_failed(&shared.state, &accept_errors, &e).await;
                    continue;
                }
            },
        };
        accepted.increment(1);
        // Over the cap: closed at once (counted and logged by `admit`).
        let Some(permit) = shared.state.connections.admit() else {
            continue;
        };
        // Small request/response exchanges must not wait on Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        tracker.spawn(connection(shared.clone(), tcp, permit));
    }
    drop(listener);
    shared.stop.cancel();
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// Serves one connection to its end, with its deadlines: HTTP/1 or HTTP/2
/// as its first bytes say (`sniff`), which must come within the header
/// deadline like the rest of the head.
async fn connection(shared: Arc<Shared>, tcp: TcpStream, permit: ConnPermit) {
    let accepted = tokio::time::Instant::now();
    let server = &shared.state.runtime.load().config.server;
    let deadlines = Deadlines {
        header: server.header_read_timeout,
        keep_alive: server.keep_alive_timeout,
        header_expired: shared.header_expired.clone(),
        idle_expired: shared.idle_expired.clone(),
    };
    // A draining server does not wait for a connection that sent nothing.
    let sniffed = tokio::select! {
        sniffed = tokio::time::timeout(deadlines.header, sniff(&tcp)) => sniffed,
        () = shared.stop.cancelled() => return,
    };
    let protocol = match sniffed {
        Ok(Ok(protocol)) => protocol,
        Ok(Err(e)) => {
            tracing::trace!(error = %e, "Client connection failed before its first byte.");
            return;
        }
        Err(_) => {
            shared.header_expired.increment(1);
            tracing::debug!(
                deadline = "request head",
                "Closing a client connection: deadline passed."
            );
            return;
        }
    };
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Watched::since(accepted, tcp, activity.clone(), deadlines));
    let service = Tracked::new(shared.entry.clone(), activity);
    let stop = &shared.stop;
    // HTTP/1 is served inline; the others are boxed, so every connection's
    // task is sized for an HTTP/1 connection (about half an `auto` one's).
    let result = match protocol {
        Protocol::Closed => Ok(()),
        Protocol::Http1 => drive(shared.http1.serve_connection(io, service), stop).await,
        Protocol::Http2 => Box::pin(drive(shared.http2.serve_connection(io, service), stop)).await,
        Protocol::Undecided => {
            Box::pin(drive(shared.auto.serve_connection(io, service), stop)).await
        }
    };
    if let Err(e) = result {
        tracing::trace!(error = %e, "Client connection ended with an error.");
    }
    drop(permit);
}

/// Runs `conn` to its end; once `stop` is cancelled, asks it to finish
/// (HTTP/1: after its response in flight; HTTP/2: GOAWAY) and waits.
async fn drive<C>(conn: C, stop: &CancellationToken) -> Result<(), BoxError>
where
    C: GracefulConnection<Error: Into<BoxError>>,
{
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    result.map_err(Into::into)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed `accept`: a client that gave up before it was accepted is
/// ignored; anything else (out of descriptors) is counted, logged at most
/// every few seconds, and paused on.
async fn accept_failed(state: &AppState, warn: &RateLimitedWarn, e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    state.telemetry.accept_error();
    if let Some(errors) = warn.due() {
        tracing::warn!(error = %e, errors, "Accepting a connection failed; pausing accepts briefly.");
    }
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
