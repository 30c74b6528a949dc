//! `signalbox demo --quality`, its canary part: a new model version for
//! `chat-eu` (eu-small, served by vllm-eu) is rolled out next to eu-large
//! in steps of 10 % → 50 % → 100 %, sessions split by a stable hash. Its
//! first window is clean and it is promoted; then vllm-eu's model is
//! "silently updated" and answers 400 ms slower, and at its next
//! evaluation the canary is rolled back on its p95 latency against the
//! baseline's, with the event's evidence printed as `signalbox canary
//! status` prints it. Every session is then back on eu-large, and each
//! request's record says which arm it got and why. Last, a canary of a
//! new version of a registered prompt: openai-us's model cannot cope with
//! its wording (the mock fails every request that carries it); failover
//! hides that from callers, not from the canary, which rolls the version
//! back.

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
  - name: support-v2
    alias: chat
    prompt: support
    baseline: v1
    canary: v2
    steps: [20, 100]
    window: { min-requests: 3, min-duration: 1s }
prompts:
  - id: support
    default-version: v1
    versions:
      - { version: v1, template: 'You are a helpful support agent for {{product}}.' }
      - { version: v2, template: 'You are a support agent for {{product}}. Reply in strict legal register.' }
";

/// The wording of the prompt version openai-us's model cannot cope with.
const BAD_WORDING: &str = "strict legal register";

/// The requests a canary part sends.
#[derive(Clone, Copy)]
enum Ask {
    /// `chat-eu`, no prompt.
    ChatEu,
    /// `chat` with the registered prompt `support`, no version named.
    Support,
}

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
    let promoted = drive(&client, &admin, (base, Ask::ChatEu), "s1", |c| {
        c["step"] == 1
    })
    .await?;
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
    let rolled = drive(&client, &admin, (base, Ask::ChatEu), "s2", |c| {
        c["phase"] == "rolled_back"
    })
    .await?;
    println!(
        "   rolled back after {} more requests; `signalbox canary status` now says:\n",
        rolled["sent"]
    );
    let status = admin.get("/admin/canary").await?;
    let one = serde_json::json!({"canaries": [status["canaries"][0]]});
    for line in crate::cmd::rollout::canary_table(&one).lines() {
        println!("   {line}");
    }
    let id = "demo-canary-after";
    let (route, _) = ask(&client, (base, Ask::ChatEu), "s2-0", id).await?;
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
    prompt_canary(demo, &client, &admin, base).await
}

/// The prompt canary's part of the story.
async fn prompt_canary(
    demo: &Demo,
    client: &reqwest::Client,
    admin: &Admin<'_>,
    base: &str,
) -> anyhow::Result<()> {
    println!(
        "\n6. A canary of a new prompt version: support@v2 takes 20% of the `chat` sessions that use"
    );
    println!(
        "   the registered prompt `support` without naming a version. openai-us's model cannot cope"
    );
    println!(
        "   with v2's wording ({BAD_WORDING:?}) and answers 500 to it; failover serves those callers"
    );
    println!("   from eu-large, but the canary counts every v2 answer a fallback gave:");
    demo.us.set_faults(Faults {
        fail_when_body_contains: Some(BAD_WORDING.into()),
        error_status: 500,
        ..Faults::default()
    });
    let rolled = drive(client, admin, (base, Ask::Support), "p", |c| {
        c["phase"] == "rolled_back"
    })
    .await?;
    let last = rolled["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    println!(
        "   rolled back after {} requests: {}",
        rolled["sent"],
        last["evidence"].as_str().unwrap_or("-")
    );
    let id = "demo-prompt-after";
    let (route, version) = ask(client, (base, Ask::Support), "p-0", id).await?;
    println!("   Every session gets {version} again, served by {route}; its record says:");
    let record = admin.get(&format!("/admin/decisions/{id}")).await?;
    println!("   canary {}", record["canary"].as_str().unwrap_or("-"));
    check(
        version == "support@v1" && route == "us-large",
        "sessions should be back on support@v1, served by us-large",
    )?;
    demo.us.set_faults(Faults::default());
    Ok(())
}

/// Sends requests in fresh sessions until the status of the canary they
/// meet satisfies `done`; the status, with how many requests were sent.
async fn drive(
    client: &reqwest::Client,
    admin: &Admin<'_>,
    (base, kind): (&str, Ask),
    prefix: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let index = match kind {
        Ask::ChatEu => 0,
        Ask::Support => 1,
    };
    for sent in 0..500 {
        let mut status = admin.get("/admin/canary").await?["canaries"][index].clone();
        if done(&status) {
            status["sent"] = sent.into();
            return Ok(status);
        }
        let session = format!("{prefix}-{sent}");
        let id = format!("demo-canary-{session}");
        ask(client, (base, kind), &session, &id).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("demo check failed: the canary never moved")
}

/// One request in `session`; the route that served it and the prompt
/// version it got.
async fn ask(
    client: &reqwest::Client,
    (base, kind): (&str, Ask),
    session: &str,
    id: &str,
) -> anyhow::Result<(String, String)> {
    let model = match kind {
        Ask::ChatEu => "chat-eu",
        Ask::Support => "chat",
    };
    let body =
        serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]});
    let mut req = client
        .post(format!("{base}/v1/chat/completions"))
        .header("x-signalbox-session", session)
        .header("x-request-id", id)
        .json(&body);
    if let Ask::Support = kind {
        req = req
            .header("x-signalbox-prompt", "support")
            .header("x-signalbox-prompt-variables", r#"{"product":"Acme"}"#);
    }
    let resp = req.send().await?;
    Ok((
        super::header(&resp, "x-signalbox-route"),
        super::header(&resp, "x-signalbox-prompt-version"),
    ))
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
