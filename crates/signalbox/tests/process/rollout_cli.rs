//! Process-level tests of `signalbox shadow report` and `signalbox canary
//! status` over a real gateway's admin API (in process, in front of mocks
//! on port 0), as a table and as JSON.

use std::process::Output;
use std::time::Duration;

use signalbox_testkit::{Harness, chat_body};

use crate::common::{bin, success_stdout};

const CONFIG: &str = r#"
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: candidate, kind: openai-compatible, base-url: "${CANDIDATE_URL}" }
routes:
  - { id: us-large, provider: primary, model: m, region: us }
  - { id: us-next, provider: candidate, model: m, version: v2, region: us }
aliases:
  - { name: chat, routes: [us-large] }
  - { name: next, routes: [us-large, us-next] }
admin:
  tokens:
    - { name: viewer, role: read-only, token: { env: VIEWER_TOKEN } }
shadow:
  rules:
    - { name: try-next, route: us-next, sample: 1.0, when: { aliases: [chat] } }
canary:
  - { name: next-rollout, alias: next, baseline: us-large, canary: us-next, steps: [10, 100] }
"#;

const TOKEN: &str = "viewer-secret-token";

async fn cli(url: &str, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.args(args).args(["--url", url]);
    cmd.env("SIGNALBOX_ADMIN_TOKEN", TOKEN);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_report_and_canary_status_over_the_admin_api() {
    let h = Harness::start(
        CONFIG,
        &["primary", "candidate"],
        &[("VIEWER_TOKEN", TOKEN.into())],
    )
    .await;
    let url = h.gateway.base_url();
    let r = h.chat(&chat_body("chat", "hi")).await;
    assert_eq!(r.headers()["x-signalbox-route"], "us-large");
    let mut table = String::new();
    for _ in 0..100 {
        table = success_stdout(&cli(&url, &["shadow", "report"]).await);
        if table.contains("us-next") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(table.starts_with("ROUTE"), "{table}");
    assert!(table.contains("100% (1/1)"), "{table}");
    let json = success_stdout(&cli(&url, &["shadow", "report", "--json"]).await);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["rules"][0]["name"], "try-next");

    let status = success_stdout(&cli(&url, &["canary", "status"]).await);
    assert!(
        status.starts_with("next-rollout: us-large → us-next on next, stepping at 10.0%"),
        "{status}"
    );
    assert!(status.contains("started"), "{status}");
    let json = success_stdout(&cli(&url, &["canary", "status", "--json"]).await);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["canaries"][0]["share_percent"], 10.0);
}
