//! Owns the threads that serve requests in `signalbox serve`, apart from
//! the control runtime (reload, probes, signals). Two layouts:
//!
//! * **per-core** (default): one single-threaded runtime per worker thread;
//!   each accepts on its own `SO_REUSEPORT` listener (the kernel spreads
//!   new connections over them) and runs every request of its connections
//!   to the end, upstream calls included (`signalbox-providers` keeps one
//!   connection pool per thread);
//! * **work-stealing**: one Tokio multi-thread runtime with the configured
//!   number of workers on one listener.
//!
//! Why: under Tokio's work-stealing runtime a request hops between worker
//! threads (the I/O driver's thread, the connection task's, the handler's),
//! and every hop to a parked worker is a futex wake and a context switch.
//! On a proxy whose own work per request is a few tens of microseconds,
//! those hops cost about a fifth of its CPU at 2,000 req/s
//! (docs/benchmarks.md, "One runtime per core"). nginx and Envoy are built
//! the same way, and Pingora offers it as its no-steal runtime.
//!
//! The price: a connection stays on the core that accepted it, so one
//! multiplexed HTTP/2 client connection is served by one core, and a
//! request that computes for long delays the other requests of its core;
//! the longest computation, a huge prompt's token estimate, is capped by
//! its time budget (`signalbox_policy::tokens::TIME_BUDGET`, 50 ms).
//! `server.scheduler: work-stealing` keeps the shared runtime for
//! deployments where that matters.
//!
//! Each serving thread warms itself up (`warm.rs`) before it accepts a
//! connection, and `/readyz` says ready only once every one has.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use signalbox_config::Scheduler;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::server::SHARED_WORKER;

/// Backlog of each worker's listening socket.
const BACKLOG: u32 = 1024;

/// Where and how `signalbox serve` runs requests: bound sockets, and the
/// runtime(s) that will serve them.
#[derive(Debug)]
pub enum Layout {
    /// One single-threaded runtime per listener, all sharing one port.
    PerCore(Vec<std::net::TcpListener>),
    /// One work-stealing runtime with `threads` workers on one listener.
    WorkStealing {
        /// The listening socket.
        listener: std::net::TcpListener,
        /// Worker threads of the runtime.
        threads: usize,
    },
}

impl Layout {
    /// Binds `addr` for `scheduler` with `threads` workers (port 0: the
    /// system picks one, shared by every per-core listener). Must run
    /// inside a Tokio runtime.
    pub fn bind(addr: SocketAddr, scheduler: Scheduler, threads: usize) -> std::io::Result<Self> {
        match scheduler {
            Scheduler::PerCore => Ok(Self::PerCore(bind_reuseport(addr, threads)?)),
            Scheduler::WorkStealing => {
                let listener = std::net::TcpListener::bind(addr)?;
                listener.set_nonblocking(true)?;
                Ok(Self::WorkStealing { listener, threads })
            }
        }
    }

    /// The address the layout listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        let first = match self {
            Self::PerCore(listeners) => listeners.first(),
            Self::WorkStealing { listener, .. } => Some(listener),
        };
        first
            .ok_or_else(|| std::io::Error::other("no listening socket"))?
            .local_addr()
    }
}

/// `threads` listening sockets on `addr` sharing its port through
/// `SO_REUSEPORT` (port 0: the first one picks it), detached from any
/// runtime so that each worker can adopt one.
fn bind_reuseport(addr: SocketAddr, threads: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::with_capacity(threads);
    let mut addr = addr;
    for _ in 0..threads.max(1) {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(BACKLOG)?;
        addr = listener.local_addr()?;
        listeners.push(listener.into_std()?);
    }
    Ok(listeners)
}

/// Serves `layout` on threads of its own until `shutdown` resolves; then
/// every runtime drains its connections, and the call returns the first
/// error, if any.
pub(crate) async fn serve(
    state: Arc<AppState>,
    layout: Layout,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // (listener, worker label, worker threads: `None` for a single-threaded runtime)
    let workers: Vec<(std::net::TcpListener, String, Option<usize>)> = match layout {
        Layout::PerCore(listeners) => listeners
            .into_iter()
            .enumerate()
            .map(|(i, l)| (l, i.to_string(), None))
            .collect(),
        Layout::WorkStealing { listener, threads } => {
            vec![(listener, SHARED_WORKER.to_owned(), Some(threads.max(1)))]
        }
    };
    // `/readyz` stays "warming" until every thread below has warmed up.
    state.readiness.expect(workers.len());
    let stop = CancellationToken::new();
    let mut running = FuturesUnordered::new();
    for (i, (listener, worker, threads)) in workers.into_iter().enumerate() {
        let state = state.clone();
        let token = stop.clone();
        let (done, finished) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            // At most 15 characters: the name shown by ps, top and /proc.
            .name(format!("sb-serve-{i}"))
            .spawn(move || {
                let _ = done.send(run(threads, state, listener, &worker, token));
            });
        if let Err(e) = spawned {
            stop.cancel();
            return Err(e);
        }
        running.push(finished);
    }
    // Whichever thread ends first (with an error, or after `stop`) is seen
    // at once: one failing thread stops the others, since a partial server
    // would silently serve a fraction of the connections.
    let wait_all = async {
        let mut first_error = None;
        while let Some(finished) = running.next().await {
            let result = finished.unwrap_or_else(|_| {
                Err(std::io::Error::other("a serving thread ended unexpectedly"))
            });
            if let Err(e) = result {
                stop.cancel();
                first_error.get_or_insert(e);
            }
        }
        first_error
    };
    tokio::pin!(wait_all);
    tokio::select! {
        () = shutdown => stop.cancel(),
        first_error = &mut wait_all => return first_error.map_or(Ok(()), Err),
    }
    wait_all.await.map_or(Ok(()), Err)
}

/// One serving thread: warms itself up (`warm.rs`), builds its runtime
/// (`threads` workers, each warmed up as it starts, or a single-threaded
/// one) and serves `listener` until `stop` is cancelled, then drains.
fn run(
    threads: Option<usize>,
    state: Arc<AppState>,
    listener: std::net::TcpListener,
    worker: &str,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let warmed = crate::warm::thread();
    let mut builder = match threads {
        None => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n).on_thread_start(|| {
                let _ = crate::warm::thread();
            });
            b
        }
    };
    let runtime = builder.enable_all().build()?;
    state.telemetry.warm_up(worker, warmed);
    state.readiness.warmed();
    tracing::debug!(
        worker,
        warm_up_ms = warmed.as_secs_f64() * 1000.0,
        "Serving thread warmed up."
    );
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        let heartbeat = tokio::spawn(heartbeat());
        let result = crate::conn::serve(state, listener, worker, stop.cancelled_owned()).await;
        heartbeat.abort();
        result
    })
}

/// How often a worker's heartbeat timer fires.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_millis(500);

/// Keeps one timer armed on the worker's runtime, always due within
/// [`HEARTBEAT`]. Why: when a request arms a timer (its first-byte and
/// total deadlines) that ends before every timer already armed — and with
/// none armed, every timer does — Tokio wakes its I/O driver to shorten
/// the sleep: one `eventfd` write per request. Request deadlines are
/// seconds away, so with a timer always due sooner they never need that.
async fn heartbeat() {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_every_listener_to_the_same_port() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let listeners = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(listeners.len(), 3);
        let port = listeners[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        for l in &listeners {
            assert_eq!(l.local_addr().unwrap().port(), port);
        }
    }
}
