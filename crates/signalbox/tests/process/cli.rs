//! Process-level tests: the real `signalbox` binary, its exit codes and
//! output, and a real `serve` process in front of an in-process mock.

use std::time::Duration;

use crate::common::process::{serve, two_mocks};
use crate::common::{assert_left_nothing, bin, output_in_own_tmp, temp_file};
use signalbox_testkit::chat_body;

#[test]
fn check_accepts_the_failover_example() {
    let out = bin()
        .args(["check", "examples/failover.yaml"])
        .env("PRIMARY_URL", "http://127.0.0.1:9001/v1")
        .env("SECONDARY_URL", "http://127.0.0.1:9002/v1")
        .output()
        .unwrap();
    let stdout = crate::common::success_stdout(&out);
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(stdout.contains("alias chat"), "{stdout}");
}

#[test]
fn check_reports_every_error_with_its_path() {
    let (_path_dir, path) = temp_file(
        "cli-bad",
        "config.yaml",
        r#"
regions: [us, eu]
providers:
  - name: p
    kind: openai-compatible
    base-url: http://127.0.0.1:1/v1
routes:
  - { id: a, provider: p, model: m, region: us }
  - { id: b, provider: nope, model: m, region: eu }
  - { id: c, provider: p, model: m, region: eu-wst }
aliases:
  - name: chat
    routes: [a, b, missing]
"#,
    );
    let out = bin().arg("check").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(r#"routes[2].region: unknown region "eu-wst""#),
        "{stdout}"
    );
    assert!(
        stdout.contains("routes[1].provider: unknown provider"),
        "{stdout}"
    );
    assert!(stdout.contains("aliases[0].routes[2]"), "{stdout}");
}

#[test]
fn check_names_a_missing_environment_variable() {
    let out = bin()
        .args(["check", "examples/failover.yaml"])
        .env_remove("PRIMARY_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("providers[0].base-url: environment variable PRIMARY_URL is not set"),
        "{stdout}"
    );
}

#[test]
fn schema_is_a_json_schema() {
    let out = bin().arg("schema").output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["providers", "routes", "aliases", "server"] {
        assert!(v["properties"].get(key).is_some(), "{key} missing");
    }
}

#[test]
fn demo_quality_moves_traffic_off_a_silent_regression_and_back() {
    // In a temp dir of its own, which it must leave empty.
    let (out, left) = output_in_own_tmp(bin().args(["demo", "--quality"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let routes: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("x-signalbox-route: "))
        .collect();
    assert_eq!(routes, ["us-large", "eu-large", "us-large"], "{stdout}");
    assert!(stdout.contains("Quality demo complete"), "{stdout}");
    // The disable is an event naming the route, the scorer and the model
    // version change.
    assert!(
        stdout.contains("route us-large disabled: demo-critical tool-call 0.00 < 1.00")
            && stdout.contains(
                "answered by model version gpt-4o-2026-12-01, not the route's gpt-4o-2024-08-06"
            ),
        "{stdout}"
    );
    // The same run's canary part: promoted on a clean window, rolled back
    // on its p95 once its provider slows down.
    for line in [
        "promoted    10.0% → 50.0%: clean window",
        "rolled_back 50.0% → 0.0%: p95 latency",
        "skipped eu-small: canary chat-eu-small: baseline arm",
        "error rate 100.0% vs 0.0%",
        "Every session gets support@v1 again, served by us-large",
        "canary support-v2: baseline arm",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert_left_nothing(&left);
}

#[test]
fn demo_tour_runs_offline() {
    // In a temp dir of its own, which it must leave empty.
    let (out, left) = output_in_own_tmp(bin().args(["demo", "--tour"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("x-signalbox-route: us-large"), "{stdout}");
    assert!(stdout.contains("x-signalbox-route: eu-large"), "{stdout}");
    assert!(
        stdout.contains("x-signalbox-degraded: fallback-route"),
        "{stdout}"
    );
    assert!(
        stdout.contains("attempts 1, degraded fallback-route"),
        "{stdout}"
    );
    assert!(stdout.contains("Tour complete"), "{stdout}");
    // `signalbox explain` of the first decision, read back from the log.
    assert!(
        stdout.contains("Why it went there: `signalbox explain "),
        "{stdout}"
    );
    assert!(
        stdout.contains("us-large chosen (ranked 1 of 3 eligible)"),
        "{stdout}"
    );
    // "What changed?": a silent model update named by route and versions.
    assert!(
        stdout.contains(
            "[model] route eu-small reports model version llama-3.1-8b-instruct-2026-12-05 (was llama-3.1-8b-instruct)"
        ),
        "{stdout}"
    );
    // The operator step: a drain with a reason and TTL moves traffic and is named.
    assert!(
        stdout.contains("x-signalbox-operator-actions: act-"),
        "{stdout}"
    );
    assert!(stdout.contains("x-signalbox-route: eu-small"), "{stdout}");
    assert!(
        stdout.contains("Reverted: served by eu-large again"),
        "{stdout}"
    );
    // The privacy round trip: tokens upstream, values back to the caller.
    assert!(
        stdout.contains(
            "openai-us received:   Send the receipt for card ⟦CARD_1⟧ to ⟦EMAIL_1⟧, please."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "the caller got back:  [openai-us] echo: Send the receipt for card 4111 1111 1111 1111 to jane.doe@example.com, please."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("zone external: card tokenised 1, email tokenised 1"),
        "{stdout}"
    );
    // The residency-bound tenant: refused, naming the constraint, never sent to the US.
    assert!(
        stdout.contains("no compliant fallback: the policy excludes us-large: region us ∉ [eu]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("openai-us received 0 of eu-bank's requests"),
        "{stdout}"
    );
    // Its decision log (with -wal and -shm) went with the demo.
    assert_left_nothing(&left);
}

#[tokio::test]
async fn serve_process_proxies_to_the_primary_and_fails_over() {
    let (primary, secondary) = two_mocks().await;
    let (_child, addr) = serve(
        "examples/failover.yaml",
        &[
            ("PRIMARY_URL", primary.base_url()),
            ("SECONDARY_URL", secondary.base_url()),
        ],
        &[],
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = format!("http://{addr}/v1/chat/completions");
    let resp = client
        .post(&url)
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-signalbox-route"], "primary");
    primary.shutdown();
    let resp = client
        .post(&url)
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-signalbox-route"], "secondary");
    secondary.shutdown();
}

#[tokio::test]
async fn sighup_reloads_the_configuration() {
    let (primary, secondary) = two_mocks().await;
    let original =
        std::fs::read_to_string(crate::common::repo_root().join("examples/failover.yaml")).unwrap();
    let (_config_dir, config) = temp_file("sighup", "failover.yaml", &original);
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    // No file watching: only the signal may trigger the reload.
    let (child, addr) = serve(config.to_str().unwrap(), &envs, &["--no-watch"]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = format!("http://{addr}/v1/chat/completions");
    let route = || async {
        let resp = client
            .post(&url)
            .json(&chat_body("chat", "hi"))
            .send()
            .await
            .unwrap();
        resp.headers()["x-signalbox-route"]
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(route().await, "primary");
    std::fs::write(
        &config,
        original.replace(
            "routes: [primary, secondary]",
            "routes: [secondary, primary]",
        ),
    )
    .unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut switched = false;
    for _ in 0..200 {
        if route().await == "secondary" {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(switched, "SIGHUP did not reload the configuration");
}

#[tokio::test]
async fn spans_are_exported_over_otlp_with_the_callers_trace() {
    // A fake OTLP/HTTP collector: every POST body goes to the channel.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<bytes::Bytes>();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (primary, secondary) = two_mocks().await;
    let (child, addr) = serve(
        "examples/failover.yaml",
        &[
            ("PRIMARY_URL", primary.base_url()),
            ("SECONDARY_URL", secondary.base_url()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}")),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".into()),
        ],
        &[],
    )
    .await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The provider call names the exported span as its parent.
    let sent = primary.stats().last_headers["traceparent"].clone();
    let span_id = &sent[36..52];
    assert!(sent.starts_with(&format!("00-{trace}-")), "{sent}");

    let hex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let (trace_bytes, span_bytes) = (hex(trace), hex(span_id));
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let mut exported = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(body) = rx.recv().await {
            exported.extend_from_slice(&body);
            // The request's span (its outcome) and its attempt's child span.
            if contains(&exported, &span_bytes)
                && contains(&exported, b"signalbox.outcome")
                && contains(&exported, b"signalbox.attempt.outcome")
            {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "no exported span with id {span_id}");
    // Same trace as the caller's, with the route it went to.
    assert!(contains(&exported, &trace_bytes));
    assert!(contains(&exported, b"signalbox.route"));
    assert!(contains(&exported, b"primary"));
    // GenAI semantic conventions, with the schema URL that pins them.
    for key in [
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        signalbox_gateway::SEMCONV_SCHEMA_URL,
    ] {
        assert!(contains(&exported, key.as_bytes()), "{key} not exported");
    }
    drop(child);
    primary.shutdown();
    secondary.shutdown();
}
