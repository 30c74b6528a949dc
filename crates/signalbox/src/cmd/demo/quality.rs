//! `signalbox demo --quality`: the quality loop told as a story. A suite
//! of one critical intent (a weather tool call) runs against us-large and
//! eu-large every second; openai-us's model is then "silently updated" so
//! that its tool calls carry a number where a city belongs and its answers
//! name a new model version (every answer still a 200, so breakers see
//! nothing); its next run fails, us-large stops serving with an event
//! naming the scorer and the version, and traffic moves to eu-large,
//! marked; once the fault
//! clears, us-large passes again and serves.

use std::time::Duration;

use anyhow::bail;
use signalbox_mock::Faults;

use super::{Demo, show_headers};

/// The suite the demo runs.
const SUITE: &str = r#"suite: demo-critical
cases:
  - id: weather-call
    intent: weather
    messages: [{role: user, content: "What is the weather in Paris?"}]
    tools:
      - name: get_weather
        parameters: {type: object, properties: {location: {type: string}}, required: [location]}
    expect: {tool: {name: get_weather, arguments: {location: Paris}}}
"#;

/// Writes the suite to a file in `dir` (the demo's temporary directory)
/// and returns the `quality` section that runs it.
pub(super) fn section(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join("quality-suite.yaml");
    std::fs::write(&path, SUITE)?;
    Ok(format!(
        "\nquality:\n  every: 1s\n  recover-after: 1\n  suites:\n    - path: {}\n      routes: [us-large, eu-large]\n      min-pass-rate: {{ tool-call: 1.0 }}\n",
        path.display()
    ))
}

/// The story; fails if the gateway does not behave as told.
pub(super) async fn run(demo: &Demo, base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    println!("Signalbox quality demo: a gateway on {base} in front of three mock providers.");
    println!(
        "A suite of one critical intent (a weather tool call) runs against us-large and eu-large every second.\n"
    );
    wait_for(
        &client,
        base,
        "signalbox_quality_runs_total{route=\"us-large\",result=\"passed\"}",
    )
    .await?;
    println!("1. Both routes pass; `chat` is served by its first route:");
    let route = ask(&client, base).await?;
    check(route == "us-large", "us-large should serve first")?;

    println!(
        "\n2. openai-us's model is silently updated (answers now name {UPDATED}): its tool calls carry a number where the city belongs."
    );
    println!(
        "   Every answer is still a 200, so breakers see nothing. The next suite run scores it:"
    );
    demo.us.set_faults(Faults {
        corrupt_tool_arguments: true,
        model_version: Some(UPDATED.into()),
        ..Faults::default()
    });
    wait_for(
        &client,
        base,
        "signalbox_quality_disabled{route=\"us-large\"} 1",
    )
    .await?;
    println!(
        "   signalbox_quality_disabled{{route=\"us-large\"}} 1: its tool-call pass rate fell below 1.00."
    );
    println!(
        "   The event in the audit trail names the route, the scorer and the model version change:"
    );
    println!(
        "   {}",
        quality_event(&client, base, &demo.operator_token).await?
    );
    println!(
        "   Requests now skip us-large (quality_regression, in their record and `signalbox explain`):"
    );
    let route = ask(&client, base).await?;
    check(route == "eu-large", "traffic should move to eu-large")?;

    println!("\n3. The model is fixed; the next passing run brings us-large back:");
    demo.us.set_faults(Faults::default());
    wait_for(
        &client,
        base,
        "signalbox_quality_disabled{route=\"us-large\"} 0",
    )
    .await?;
    let route = ask(&client, base).await?;
    check(route == "us-large", "us-large should serve again")?;
    Ok(())
}

/// The model version openai-us's answers name once it is "updated".
const UPDATED: &str = "gpt-4o-2026-12-01";

/// The quality loop's event disabling us-large, from `GET /admin/audit`
/// (waits up to 5 s for it to be written).
async fn quality_event(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<String> {
    for _ in 0..50 {
        let audit: serde_json::Value = client
            .get(format!("{base}/admin/audit?limit=50"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let found = audit["audit"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| {
                let detail = e["detail"].as_str()?;
                (e["who"] == "signalbox-quality" && detail.starts_with("route us-large disabled"))
                    .then(|| detail.to_owned())
            });
        if let Some(detail) = found {
            return Ok(detail);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no quality event for us-large in the audit trail")
}

async fn ask(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let body =
        serde_json::json!({"model": "chat", "messages": [{"role": "user", "content": "Hello"}]});
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await?;
    Ok(show_headers(&resp))
}

/// Waits (at most 15 s) until `/metrics` contains `line`.
async fn wait_for(client: &reqwest::Client, base: &str, line: &str) -> anyhow::Result<()> {
    for _ in 0..150 {
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        if metrics.contains(line) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("demo check failed: {line} never appeared in /metrics")
}

fn check(ok: bool, what: &str) -> anyhow::Result<()> {
    if !ok {
        bail!("demo check failed: {what}");
    }
    Ok(())
}
