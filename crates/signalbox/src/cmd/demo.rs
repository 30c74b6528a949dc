//! `signalbox demo`: three in-process mock providers in two regions and a
//! gateway running the embedded `examples/demo.yaml`. Without `--tour` it
//! prints ready-to-paste curl commands and serves until Ctrl-C; with
//! `--tour` it walks through a normal request and its explanation, a
//! streamed one, a privacy round trip (`demo/privacy.rs`), a
//! residency-bound tenant refused rather than served out of region
//! (`demo/residency.rs`), failover, the breaker, an operator draining a
//! route and `what-changed` naming an injected model update, and exits
//! (non-zero if anything did not behave as narrated); with `--quality` it
//! tells the quality loop's story (`demo/quality.rs`), then a canary rolled
//! back (`demo/canary.rs`). The demo adds an operator token to the embedded
//! configuration (`admin.tokens`) and fills in eu-bank's API key: fresh
//! values per run, in the variables they are read from like any secret.
//! Its decision log (and `--quality`'s suite file) live in a directory of
//! its own in the temp dir (`$TMPDIR/signalbox-demo-XXXXXX`), removed when
//! the demo ends: on success, on an error, and on Ctrl-C or SIGTERM.

mod canary;
mod privacy;
mod quality;
mod residency;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use signalbox_config::{OverlayVars, load_str};
use signalbox_gateway::{Gateway, GatewayHandle, GatewayOptions};
use signalbox_mock::{Faults, MockHandle, MockOptions, MockProvider};

/// The demo configuration, embedded so the demo needs no files.
pub const DEMO_YAML: &str = include_str!("../../../../examples/demo.yaml");

/// The operator token the demo adds (its value comes from
/// `DEMO_OPERATOR_TOKEN`, set per run).
const DEMO_ADMIN: &str = "
admin:
  tokens:
    - { name: demo-operator, role: operator, token: { env: DEMO_OPERATOR_TOKEN } }
";

struct Demo {
    gateway: GatewayHandle,
    /// The gateway's decision log, in `_scratch`.
    db: std::path::PathBuf,
    /// The operator token for this run.
    operator_token: String,
    /// The API key of the EU-only tenant `eu-bank` for this run.
    eu_bank_key: String,
    us: MockHandle,
    azure: MockHandle,
    vllm: MockHandle,
    /// The demo's temporary files; removed when it is dropped, so declared
    /// last: the gateway (and its log writer) stops first.
    _scratch: tempfile::TempDir,
}

pub async fn run(tour: bool, quality: bool, listen: SocketAddr) -> anyhow::Result<ExitCode> {
    // Listened for from the first moment, and by one listener throughout: a
    // Ctrl-C while the mocks and the gateway start drops what was started,
    // its temporary directory included, instead of killing the process with
    // the directory in place (or being lost between two listeners).
    let signal = super::serve::shutdown_listener();
    tokio::pin!(signal);
    let demo = until_interrupted(start(listen, tour || quality, quality), signal.as_mut()).await?;
    let base = demo.gateway.base_url();
    if quality {
        let story = async {
            quality::run(&demo, &base).await?;
            canary::run(&demo, &base).await
        };
        let result = until_interrupted(story, signal.as_mut()).await;
        stop(demo).await;
        result?;
        println!("\nQuality demo complete. See docs/quality.md.");
        return Ok(ExitCode::SUCCESS);
    }
    if tour {
        let result = until_interrupted(run_tour(&demo, &base), signal.as_mut()).await;
        stop(demo).await;
        result?;
        println!(
            "\nTour complete. Run `signalbox demo` to keep the gateway up and try it yourself."
        );
        return Ok(ExitCode::SUCCESS);
    }
    print_instructions(&demo, &base);
    signal.await;
    stop(demo).await;
    Ok(ExitCode::SUCCESS)
}

/// Runs `story` unless Ctrl-C (or SIGTERM) comes first, which ends it as
/// an error: either way the caller then stops the demo (or, interrupted
/// while starting, `story` drops what it started) and its temporary files go.
async fn until_interrupted<T>(
    story: impl std::future::Future<Output = anyhow::Result<T>>,
    signal: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> anyhow::Result<T> {
    tokio::select! {
        // A signal that came while `story` was busy wins over its result.
        biased;
        () = signal => bail!("interrupted"),
        result = story => result,
    }
}

/// Where every file the demo writes goes, never the caller's working
/// directory: `$TMPDIR/signalbox-demo-XXXXXX`, removed when dropped (on
/// every way out of the demo).
fn scratch_dir() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("signalbox-demo-")
        .tempdir()
        .context("creating the demo's temporary directory")
}

async fn start(listen: SocketAddr, tour: bool, quality: bool) -> anyhow::Result<Demo> {
    let scratch = scratch_dir()?;
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let mock = |name: &str| MockOptions {
        name: name.to_string(),
        stream_chunks: 6,
        chunk_delay_ms: 120,
    };
    let us = MockProvider::start(any, mock("openai-us"))
        .await
        .context("starting mock openai-us")?;
    let azure = MockProvider::start(any, mock("azure-eu"))
        .await
        .context("starting mock azure-eu")?;
    let vllm = MockProvider::start(any, mock("vllm-eu"))
        .await
        .context("starting mock vllm-eu")?;
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        signalbox_core::clock::unix_ms()
    );
    let operator_token = format!("demo-{run_id}");
    let eu_bank_key = format!("demo-eu-bank-{run_id}");
    let vars = OverlayVars::new([
        ("DEMO_OPERATOR_TOKEN".to_string(), operator_token.clone()),
        ("DEMO_EU_BANK_KEY".to_string(), eu_bank_key.clone()),
        ("DEMO_OPENAI_US_URL".to_string(), us.base_url()),
        ("DEMO_AZURE_EU_URL".to_string(), azure.base_url()),
        ("DEMO_VLLM_EU_URL".to_string(), vllm.base_url()),
        ("DEMO_LISTEN".to_string(), listen.to_string()),
    ]);
    let yaml = if quality {
        format!(
            "{DEMO_YAML}{DEMO_ADMIN}{}{}",
            quality::section(scratch.path())?,
            canary::SECTION
        )
    } else {
        format!("{DEMO_YAML}{DEMO_ADMIN}")
    };
    let config = load_str(&yaml, "<embedded examples/demo.yaml>", &vars)
        .map_err(|e| anyhow::anyhow!("the embedded demo configuration is invalid:\n{e}"))?;
    let db = scratch.path().join("decisions.db");
    let options = GatewayOptions {
        decision_log_path: Some(db.clone()),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::with_options(config, options).context("building the demo gateway")?;
    // The tour needs no fixed port; the interactive demo prefers the
    // documented one and falls back to a free port.
    let addr = if tour { any } else { listen };
    let handle = match gateway.clone().spawn(addr).await {
        Ok(h) => h,
        Err(e) if !tour => {
            tracing::warn!(%listen, error = %e, "Demo port taken; using a free port instead.");
            gateway
                .spawn(any)
                .await
                .context("binding the demo gateway")?
        }
        Err(e) => return Err(e).context("binding the demo gateway"),
    };
    Ok(Demo {
        gateway: handle,
        db,
        operator_token,
        eu_bank_key,
        us,
        azure,
        vllm,
        _scratch: scratch,
    })
}

impl Demo {
    /// Both EU providers (azure-eu, vllm-eu) answer 503 to everything.
    fn fail_eu(&self) {
        for m in [&self.azure, &self.vllm] {
            m.set_faults(Faults {
                error_rate: 1.0,
                error_status: 503,
                ..Faults::default()
            });
        }
    }
}

async fn stop(demo: Demo) {
    demo.gateway.shutdown().await;
    for m in [demo.us, demo.azure, demo.vllm] {
        m.shutdown();
    }
}

fn print_instructions(demo: &Demo, base: &str) {
    println!("Signalbox demo is running.\n");
    println!("  gateway      {base}   (config: examples/demo.yaml, embedded)");
    println!(
        "  openai-us    {}   route us-large (region us)",
        demo.us.base_url()
    );
    println!(
        "  azure-eu     {}   route eu-large (region eu)",
        demo.azure.base_url()
    );
    println!(
        "  vllm-eu      {}   route eu-small (region eu)",
        demo.vllm.base_url()
    );
    println!("\nTry it:\n");
    println!("  curl -si {base}/v1/chat/completions -H 'content-type: application/json' \\");
    println!(
        "    -d '{{\"model\":\"chat\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello, Signalbox\"}}]}}'\n"
    );
    println!(
        "As tenant eu-bank (EU only: refused rather than ever served from the US), add\n    -H 'authorization: Bearer {}'\n",
        demo.eu_bank_key
    );
    println!("  curl -sN {base}/v1/chat/completions -H 'content-type: application/json' \\");
    println!(
        "    -d '{{\"model\":\"chat\",\"stream\":true,\"messages\":[{{\"role\":\"user\",\"content\":\"Stream please\"}}]}}'\n"
    );
    println!(
        "Make the primary fail, then send the first request again and read the x-signalbox-* headers:\n"
    );
    println!(
        "  curl -s http://{}/_mock/faults -d '{{\"error_rate\":1.0,\"error_status\":503}}'",
        demo.us.addr()
    );
    println!(
        "  curl -s http://{}/_mock/faults -d '{{}}'    # heal it\n",
        demo.us.addr()
    );
    println!("Drain a route as an operator (the demo's operator token), list and revert:\n");
    println!(
        "  export SIGNALBOX_ADMIN_URL={base} SIGNALBOX_ADMIN_TOKEN={}",
        demo.operator_token
    );
    println!("  signalbox admin drain us-large --for 30m --reason \"provider incident\"");
    println!("  signalbox admin actions");
    println!("  signalbox admin revert <id> --reason \"provider recovered\"\n");
    println!("Also: {base}/v1/models  {base}/readyz  {base}/metrics\n");
    println!("Ctrl-C to stop.");
}

async fn run_tour(demo: &Demo, base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/chat/completions");
    println!("Signalbox tour: a gateway on {base} in front of three mock providers.");
    println!(
        "The alias `chat` routes to us-large (openai-us), then eu-large (azure-eu), then eu-small (vllm-eu).\n"
    );

    let body = serde_json::json!({"model": "chat", "messages": [{"role": "user", "content": "Hello, Signalbox"}]});
    let id = tour_normal(&client, &url, &body).await?;
    tour_explain(&demo.db, &id).await?;
    tour_stream(&client, &url, &body).await?;
    privacy::tour_privacy(demo, &client, &url).await?;
    residency::tour_residency(demo, &client, &url, &body).await?;
    let body = serde_json::json!({"model": "chat", "messages": [{"role": "user", "content": "Are you still there?"}]});
    tour_outage(demo, &client, &url, &body).await?;
    tour_breaker(&client, &url, &body).await?;
    tour_all_down(demo, &client, &url, &body).await?;
    super::demo_drain::tour_drain(&client, base, &demo.operator_token, &body).await?;
    super::demo_changed::tour_what_changed(&client, base, &demo.vllm, &demo.db).await?;
    tour_metrics(&client, base).await
}

/// 1. A normal request, served by the first route; returns its request id.
async fn tour_normal(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> anyhow::Result<String> {
    println!("1. A normal request to the alias `chat`:");
    let resp = client.post(url).json(body).send().await?;
    let route = show_headers(&resp);
    let id = header(&resp, "x-signalbox-request-id");
    let status = resp.status();
    let json: serde_json::Value = resp.json().await?;
    println!(
        "   status {status}; answer: {}",
        json["choices"][0]["message"]["content"]
    );
    expect(
        status.is_success() && route == "us-large",
        "the first request should be served by us-large",
    )?;
    Ok(id)
}

/// 1b. Why it went there: the decision record, as `signalbox explain`
/// prints it (the writer commits within a few tens of milliseconds).
async fn tour_explain(db: &std::path::Path, id: &str) -> anyhow::Result<()> {
    println!(
        "\n   Why it went there: `signalbox explain {id} --db {}`",
        db.display()
    );
    let reader = signalbox_decision_log::LogReader::open(db)?;
    for _ in 0..50 {
        if let Some(record) = reader.get(id)? {
            for line in signalbox_decision_log::explain(&record).lines() {
                println!("   | {line}");
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    expect(false, "the first request's decision should be in the log")
}

/// 2. The same request streamed, chunks printed as they arrive.
async fn tour_stream(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    println!("\n2. The same request, streamed; chunks are printed as they arrive:");
    let mut body = body.clone();
    body["stream"] = serde_json::Value::Bool(true);
    let mut resp = client.post(url).json(&body).send().await?;
    show_headers(&resp);
    let started = tokio::time::Instant::now();
    let mut chunks = 0;
    while let Some(chunk) = resp.chunk().await? {
        for line in String::from_utf8_lossy(&chunk)
            .lines()
            .filter(|l| l.starts_with("data: "))
        {
            chunks += 1;
            println!(
                "   +{:>4} ms  {}",
                started.elapsed().as_millis(),
                truncate(line, 100)
            );
        }
    }
    expect(chunks >= 3, "the stream should arrive in several chunks")?;

    Ok(())
}

/// 5. The first route's provider fails: the request fails over, marked.
async fn tour_outage(
    demo: &Demo,
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    println!("\n5. Outage: openai-us now answers 503 to everything.");
    demo.us.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = client.post(url).json(body).send().await?;
    let route = show_headers(&resp);
    let status = resp.status();
    let json: serde_json::Value = resp.json().await?;
    println!(
        "   status {status}; answer: {}",
        json["choices"][0]["message"]["content"]
    );
    println!(
        "   The caller got an answer; x-signalbox-attempts shows the failed try on us-large first,"
    );
    println!("   and x-signalbox-degraded says it came from a fallback route (never silently).");
    expect(
        status.is_success() && route == "eu-large",
        "the request should fail over to eu-large",
    )?;

    Ok(())
}

/// 6. After five failures in a row the circuit opens and the route is skipped.
async fn tour_breaker(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    println!(
        "\n6. The circuit breaker: after 5 failures in a row us-large is skipped, not retried."
    );
    let mut last_attempts = String::new();
    for i in 0..5 {
        let resp = client.post(url).json(body).send().await?;
        last_attempts = header(&resp, "x-signalbox-attempts");
        println!(
            "   request {}: served by {}, attempts {last_attempts}, degraded {}",
            i + 2,
            header(&resp, "x-signalbox-route"),
            header(&resp, "x-signalbox-degraded")
        );
    }
    println!(
        "   With the circuit open the outage costs the caller nothing: one attempt, straight to eu-large."
    );
    expect(
        last_attempts == "1",
        "with us-large's circuit open, requests should go straight to eu-large",
    )?;

    Ok(())
}

/// 7. Every route down: one clear error naming each attempt and skip.
async fn tour_all_down(
    demo: &Demo,
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    println!(
        "\n7. Every route down: the caller gets a clear error listing each attempt and skipped route."
    );
    demo.fail_eu();
    let resp = client.post(url).json(body).send().await?;
    show_headers(&resp);
    let status = resp.status();
    let json: serde_json::Value = resp.json().await?;
    println!("   status {status}; error: {}", json["error"]["message"]);
    expect(
        status.as_u16() == 502,
        "with every route failing the gateway should answer 502",
    )?;
    for m in [&demo.us, &demo.azure, &demo.vllm] {
        m.set_faults(Faults::default());
    }

    Ok(())
}

/// 10. The same story in `/metrics`.
async fn tour_metrics(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    println!(
        "\n10. The same story in /metrics (attempts by route and outcome, breakers, degradations):"
    );
    for line in metrics.lines().filter(|l| {
        (l.starts_with("signalbox_upstream_attempts_total")
            || l.starts_with("signalbox_route_breaker_state")
            || l.starts_with("signalbox_degraded_total"))
            && !l.ends_with(" 0")
    }) {
        println!("   {line}");
    }
    Ok(())
}

pub(super) fn show_headers(resp: &reqwest::Response) -> String {
    let mut route = String::new();
    for (name, value) in resp.headers() {
        if name.as_str().starts_with("x-signalbox-") || name.as_str() == "x-request-id" {
            let v = value.to_str().unwrap_or("?");
            println!("   {name}: {v}");
            if name.as_str() == "x-signalbox-route" {
                route = v.to_string();
            }
        }
    }
    route
}

pub(super) fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

pub(super) fn expect(ok: bool, what: &str) -> anyhow::Result<()> {
    if !ok {
        bail!("tour check failed: {what}");
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
