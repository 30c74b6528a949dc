//! `signalbox mock-provider`: the fake upstream as its own process (for the
//! load benchmark and manual experiments).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use signalbox_mock::{MockFormat, MockOptions};

pub async fn run(
    listen: SocketAddr,
    format: MockFormat,
    options: MockOptions,
) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, name = %options.name, %format, "Mock provider listening (faults: POST /_mock/faults, stats: GET /_mock/stats).");
    signalbox_mock::serve_as(listener, options, format, super::serve::shutdown_signal())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}
