//! `signalbox serve`: load, validate, build, serve until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use signalbox_config::{EnvVars, load_file};
use std::sync::Arc;

use signalbox_gateway::{Gateway, GatewayOptions, Layout, ReloadSource};

pub async fn run(
    config_path: &Path,
    listen: Option<SocketAddr>,
    no_watch: bool,
) -> anyhow::Result<ExitCode> {
    raise_open_file_limit();
    let config = match load_file(config_path, &EnvVars) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{}: invalid configuration:", config_path.display());
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let options = GatewayOptions {
        reload: Some(ReloadSource {
            path: config_path.to_path_buf(),
            vars: Arc::new(EnvVars),
            watch: !no_watch,
        }),
        decision_log_path: None,
        // The store named by the configuration's `state` backend (in-process or Redis).
        breaker_store: None,
        action_store: None,
        quality_state: None,
    };
    let server = config.server.clone();
    let gateway = Gateway::with_options(config, options).context("building the gateway")?;
    let addr = listen.unwrap_or(server.listen);
    let threads = server.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let layout =
        Layout::bind(addr, server.scheduler, threads).with_context(|| format!("binding {addr}"))?;
    let bound = layout.local_addr()?;
    let scheduler = server.scheduler.as_str();
    tracing::info!(addr = %bound, policy_version = %gateway.policy_version(), config = %config_path.display(), scheduler, threads, "Signalbox listening.");
    gateway
        .serve_on_threads(layout, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("Signalbox stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Raises the soft open-file limit to the hard one before anything is
/// opened: every client connection is a descriptor, and the common soft
/// limit of 1,024 is far below what a gateway holds (the default
/// `server.max-connections` is half of the limit found here).
fn raise_open_file_limit() {
    match signalbox_gateway::raise_open_file_limit() {
        Ok(limit) if limit.before != limit.after => {
            tracing::info!(from = ?limit.before, to = ?limit.after, "Raised the open-file limit.");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "Could not raise the open-file limit; keeping the current one.");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    shutdown_listener().await;
}

/// Resolves on Ctrl-C or SIGTERM received from the moment it is called, not
/// from its first poll: a signal that arrives while the caller is still busy
/// (starting up) is kept for the returned future instead of being lost (or,
/// before any listener exists, killing the process).
pub fn shutdown_listener() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut int, mut term) = signals;
            // A signal that cannot be listened for never ends the wait.
            let int = async {
                match int.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = int => {},
                () = term => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("Shutdown requested; draining connections.");
    }
}
