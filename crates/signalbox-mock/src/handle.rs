//! Owns starting and stopping a mock server: options, the in-process handle and `serve`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::calls::Call;
use crate::control::MockControl;
use crate::faults::Faults;
use crate::format::MockFormat;
use crate::server::{Shared, router_as};
use crate::stats::Stats;

/// Server-wide defaults of a mock instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockOptions {
    /// Name echoed in answers, `x-mock-name` headers, `owned_by` and stats.
    pub name: String,
    /// Content chunks per streamed answer (overridable by `Faults::stream_chunks`).
    pub stream_chunks: u32,
    /// Delay between SSE events (overridable by `Faults::chunk_delay_ms`).
    pub chunk_delay_ms: u64,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            name: "mock".to_owned(),
            stream_chunks: 5,
            chunk_delay_ms: 0,
        }
    }
}

/// Entry point for running a mock in-process.
#[derive(Debug)]
pub struct MockProvider;

impl MockProvider {
    /// Binds `addr` (use `127.0.0.1:0` in tests), spawns the server on the current tokio runtime
    /// and returns its handle.
    pub async fn start(addr: SocketAddr, options: MockOptions) -> io::Result<MockHandle> {
        Self::start_as(addr, options, MockFormat::OpenAi).await
    }

    /// Like [`Self::start`], speaking `format`.
    pub async fn start_as(
        addr: SocketAddr,
        options: MockOptions,
        format: MockFormat,
    ) -> io::Result<MockHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (router, control) = router_as(options, format);
        let shared = control.shared().clone();
        tokio::spawn(async move {
            // Stopped by `MockHandle::shutdown`, which begins shutdown on the shared state.
            if let Err(error) = run(listener, router, shared, std::future::pending()).await {
                tracing::warn!(%addr, %error, "Mock provider stopped with an error.");
            }
        });
        Ok(MockHandle {
            addr,
            control,
            format,
        })
    }
}

/// A running in-process mock: its address plus control of its faults and stats.
#[derive(Clone, Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    control: MockControl,
    format: MockFormat,
}

impl MockHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL as that format's SDK takes it: `http://IP:PORT/v1` for OpenAI, the host
    /// root `http://IP:PORT` for Anthropic and Gemini.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.format.wire().base_path())
    }

    /// The wire format this mock speaks.
    pub fn format(&self) -> MockFormat {
        self.format
    }

    /// Replaces the fault settings (like `POST /_mock/faults`).
    pub fn set_faults(&self, faults: Faults) {
        self.control.set_faults(faults);
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        self.control.faults()
    }

    /// A snapshot of the counters and the last request.
    pub fn stats(&self) -> Stats {
        self.control.stats()
    }

    /// Starts (or stops) logging every chat request.
    pub fn log_calls(&self, on: bool) {
        self.control.log_calls(on);
    }

    /// The chat requests logged since logging started (or the last reset).
    pub fn calls(&self) -> Vec<Call> {
        self.control.calls()
    }

    /// Clears faults and stats (like `POST /_mock/reset`).
    pub fn reset(&self) {
        self.control.reset();
    }

    /// In-process control detached from the address.
    pub fn control(&self) -> &MockControl {
        &self.control
    }

    /// Stops accepting connections, releases hanging requests and ends the server task once
    /// open responses finish. Returns immediately.
    pub fn shutdown(&self) {
        self.control.shared().begin_shutdown();
    }
}

/// Serves a mock on `listener` until `shutdown` resolves (the `signalbox mock-provider` command).
pub async fn serve(
    listener: TcpListener,
    options: MockOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_as(listener, options, MockFormat::OpenAi, shutdown).await
}

/// Like [`serve`], speaking `format` (`signalbox mock-provider --format`).
pub async fn serve_as(
    listener: TcpListener,
    options: MockOptions,
    format: MockFormat,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (router, control) = router_as(options, format);
    let shared = control.shared().clone();
    run(listener, router, shared, shutdown).await
}

async fn run(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Small SSE frames must leave at once, not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "Could not set TCP_NODELAY on a mock connection.");
        }
    });
    let signal = async move {
        tokio::select! {
            () = shutdown => {}
            () = shared.shutdown_begun() => {}
        }
        shared.begin_shutdown();
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(signal)
        .await
}
