//! `signalbox demo --quality`, its canary part: a new model version for
//! `chat-eu` (eu-small, served by vllm-eu) is rolled out next to eu-large
//! in steps of 10 % → 50 % → 100 %, sessions split by a stable hash. Its
//! first window is clean and it is promoted; then vllm-eu's model is
//! "silently updated" and answers 400 ms slower, and at its next
//! evaluation the canary is rolled back on its p95 latency against the
//! baseline's, with the event's evidence printed as `signalbox canary
//! status` prints it. Every session is then back on eu-large, and each
//! request's record says which arm it got and why.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use signalbox_mock::Faults;

use super::Demo;

/// The canary the demo adds to its configuration.
pub(super) const SECTION: &str = "
canary:
  - name: chat-eu-small
    alias: chat-eu
    baseline: eu-large
    canary: eu-small
    steps: [10, 50, 100]
    window: { min-requests: 3, min-duration: 1s }
";

/// The story; fails if the gateway does not behave as told.
pub(super) async fn run(demo: &Demo, base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let admin = Admin {
        client: &client,
        base,
        token: &demo.operator_token,
    };
    println!(
        "\n4. A canary rolls a new model version out for `chat-eu`: eu-small (llama-3.1-8b on vllm-eu)"
    );
    println!(
        "   next to eu-large, 10% → 50% → 100%, each session kept in one arm by a stable hash."
    );
    println!("   A step is promoted after a clean window (3 canary requests, 1s):");
    let promoted = drive(&client, &admin, base, "s1", |c| c["step"] == 1).await?;
    println!(
        "   promoted to {}% after {} requests.",
        promoted["share_percent"], promoted["sent"]
    );

    println!(
        "\n5. vllm-eu's model is silently updated: every answer now takes 400 ms more (still a 200)."
    );
    demo.vllm.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let rolled = drive(&client, &admin, base, "s2", |c| c["phase"] == "rolled_back").await?;
    println!(
        "   rolled back after {} more requests; `signalbox canary status` now says:\n",
        rolled["sent"]
    );
    let status = admin.get("/admin/canary").await?;
    for line in crate::cmd::rollout::canary_table(&status).lines() {
        println!("   {line}");
    }
    let id = "demo-canary-after";
    let route = ask(&client, base, "s2-0", id).await?;
    check(
        route == "eu-large",
        "every session should be back on eu-large",
    )?;
    let record = admin.get(&format!("/admin/decisions/{id}")).await?;
    let reason = record["skipped"][0]["reason"].as_str().unwrap_or("-");
    println!(
        "\n   A request in any session is served by {route}; its record (`signalbox explain {id}`):"
    );
    println!("   skipped eu-small: {reason}");
    check(
        reason.contains("baseline arm"),
        "the record should name the baseline arm",
    )?;
    demo.vllm.set_faults(Faults::default());
    Ok(())
}

/// Sends `chat-eu` requests in fresh sessions until the canary's status
/// meets `done`; the status, with how many requests were sent.
async fn drive(
    client: &reqwest::Client,
    admin: &Admin<'_>,
    base: &str,
    prefix: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    for sent in 0..500 {
        let mut status = admin.get("/admin/canary").await?["canaries"][0].clone();
        if done(&status) {
            status["sent"] = sent.into();
            return Ok(status);
        }
        let session = format!("{prefix}-{sent}");
        ask(client, base, &session, &format!("demo-canary-{session}")).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("demo check failed: the canary never moved")
}

/// One `chat-eu` request in `session`; the route that served it.
async fn ask(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    id: &str,
) -> anyhow::Result<String> {
    let body =
        serde_json::json!({"model": "chat-eu", "messages": [{"role": "user", "content": "Hello"}]});
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("x-signalbox-session", session)
        .header("x-request-id", id)
        .json(&body)
        .send()
        .await?;
    Ok(super::header(&resp, "x-signalbox-route"))
}

/// The demo's admin API client (its operator token).
struct Admin<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Admin<'_> {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("GET {path}"))?
            .json()
            .await
            .with_context(|| format!("GET {path}"))
    }
}

fn check(ok: bool, what: &str) -> anyhow::Result<()> {
    if !ok {
        bail!("demo check failed: {what}");
    }
    Ok(())
}
