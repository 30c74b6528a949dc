//! Owns the gateway's HTTP server: ingress, the request pipeline, responses
//! and their error mapping, metrics, and the operational endpoints.
//!
//! ```text
//! ingress → decide (policy) → dispatch (attempts, failover) → respond → record
//! ```
//! See `pipeline.rs` for the stage list.

mod ingress;
mod pipeline;
pub mod respond;
mod runtime;
mod server;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use signalbox_config::Config;
use tokio::net::TcpListener;

pub use runtime::{BuildError, Runtime};
pub use server::GatewayHandle;
use telemetry::Telemetry;

/// State shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The current runtime; requests load it once and keep it.
    pub runtime: ArcSwap<Runtime>,
    /// Metrics registry.
    pub telemetry: Arc<Telemetry>,
}

/// A configured gateway, ready to serve.
#[derive(Debug, Clone)]
pub struct Gateway {
    state: Arc<AppState>,
}

impl Gateway {
    /// Builds the runtime (upstream clients, tables, metrics) for `config`.
    pub fn new(config: Config) -> Result<Self, BuildError> {
        let telemetry = Arc::new(Telemetry::new().map_err(|e| BuildError::HeaderValue {
            what: "metrics",
            value: e,
        })?);
        let runtime = Runtime::build(config, &telemetry)?;
        Ok(Self {
            state: Arc::new(AppState {
                runtime: ArcSwap::from_pointee(runtime),
                telemetry,
            }),
        })
    }

    /// The listen address from the configuration.
    pub fn configured_listen(&self) -> SocketAddr {
        self.state.runtime.load().config.server.listen
    }

    /// The loaded configuration's version.
    pub fn policy_version(&self) -> String {
        self.state.runtime.load().config.version.clone()
    }

    /// The axum router (for in-process use).
    pub fn router(&self) -> axum::Router {
        server::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        server::serve(self.state, listener, shutdown).await
    }

    /// Binds `addr` (port 0 for any) and serves on a background task.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<GatewayHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(GatewayHandle::new(addr, stop, task))
    }
}
