//! The tour's "what changed?" step: a provider silently starts answering
//! as another model version, and `what-changed` over the decision log
//! names the route and both versions.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use signalbox_core::clock::unix_ms;
use signalbox_decision_log::{ChangeKind, LogReader, Report, Span};
use signalbox_mock::{Faults, MockHandle};

use super::demo::expect;

/// The version the mock starts answering with.
const NEW_VERSION: &str = "llama-3.1-8b-instruct-2026-12-05";

/// 9. A silent model update on vllm-eu, named by `what-changed`.
pub(super) async fn tour_what_changed(
    client: &reqwest::Client,
    base: &str,
    vllm: &MockHandle,
    db: &Path,
) -> anyhow::Result<()> {
    println!(
        "\n9. A silent model update: vllm-eu starts answering as {NEW_VERSION}; `what-changed` names it."
    );
    let url = format!("{base}/v1/chat/completions");
    let body = json!({"model": "chat-small", "messages": [{"role": "user", "content": "Where is my order?"}]});
    let start = unix_ms();
    send(client, &url, &body, 3).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mid = unix_ms();
    vllm.set_faults(Faults {
        model_version: Some(NEW_VERSION.into()),
        ..Faults::default()
    });
    send(client, &url, &body, 3).await?;
    vllm.set_faults(Faults::default());
    let before = Span {
        since_ms: start,
        until_ms: mid,
    };
    println!(
        "   signalbox what-changed --since {} --alias chat-small   (baseline: the window before)",
        super::admin::rfc3339(mid)
    );
    let reader = LogReader::open(db)?;
    // The writer commits within a few tens of milliseconds.
    for _ in 0..50 {
        let after = Span {
            since_ms: mid,
            until_ms: unix_ms() + 1,
        };
        let report = reader.what_changed(before, after, Some("chat-small"))?;
        if names_the_update(&report) {
            for (i, c) in report.changes.iter().take(4).enumerate() {
                println!("   {}. [{}] {}", i + 1, c.kind.as_str(), c.what);
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    expect(false, "what-changed should name the new model version")
}

/// Sends `n` requests, each of which must be served.
async fn send(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    n: usize,
) -> anyhow::Result<()> {
    for _ in 0..n {
        let status = client.post(url).json(body).send().await?.status();
        expect(status.is_success(), "chat-small should serve the request")?;
    }
    Ok(())
}

fn names_the_update(report: &Report) -> bool {
    report
        .changes
        .iter()
        .any(|c| c.kind == ChangeKind::Model && c.what.contains(NEW_VERSION))
}
