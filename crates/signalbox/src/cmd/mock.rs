//! `signalbox mock-provider`: the fake upstream as its own process (for the
//! load benchmark and manual experiments).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use signalbox_mock::MockOptions;

pub async fn run(
    listen: SocketAddr,
    name: String,
    stream_chunks: u32,
    chunk_delay_ms: u64,
) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, %name, "Mock provider listening (faults: POST /_mock/faults, stats: GET /_mock/stats).");
    let options = MockOptions {
        name,
        stream_chunks,
        chunk_delay_ms,
    };
    signalbox_mock::serve(listener, options, super::serve::shutdown_signal())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}
