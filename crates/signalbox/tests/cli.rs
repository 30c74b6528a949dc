//! Process-level tests: the real `signalbox` binary, its exit codes and
//! output, and a real `serve` process in front of an in-process mock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{bin, temp_file};
use signalbox_mock::{MockOptions, MockProvider};
use signalbox_testkit::{any_port, chat_body, init_tls};

#[test]
fn check_accepts_the_failover_example() {
    let out = bin()
        .args(["check", "examples/failover.yaml"])
        .env("PRIMARY_URL", "http://127.0.0.1:9001/v1")
        .env("SECONDARY_URL", "http://127.0.0.1:9002/v1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(stdout.contains("alias chat"), "{stdout}");
}

#[test]
fn check_reports_every_error_with_its_path() {
    let path = temp_file(
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
fn demo_tour_runs_offline() {
    let out = bin().args(["demo", "--tour"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("x-signalbox-route: us-large"), "{stdout}");
    assert!(stdout.contains("x-signalbox-route: eu-large"), "{stdout}");
    assert!(stdout.contains("Tour complete"), "{stdout}");
}

/// Kills the child on drop so a failing test leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_process_proxies_to_the_primary_and_fails_over() {
    init_tls();
    let opts = |n: &str| MockOptions {
        name: n.into(),
        ..MockOptions::default()
    };
    let primary = MockProvider::start(any_port(), opts("primary"))
        .await
        .unwrap();
    let secondary = MockProvider::start(any_port(), opts("secondary"))
        .await
        .unwrap();
    let child = bin()
        .args([
            "serve",
            "--config",
            "examples/failover.yaml",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .env("PRIMARY_URL", primary.base_url())
        .env("SECONDARY_URL", secondary.base_url())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let stderr = child.0.stderr.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stderr).lines() {
            let line = line.ok()?;
            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
            if let Some(addr) = v["fields"]["addr"].as_str() {
                return Some(addr.to_string());
            }
        }
        None
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), addr)
        .await
        .unwrap()
        .unwrap()
        .expect("listening line");
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
