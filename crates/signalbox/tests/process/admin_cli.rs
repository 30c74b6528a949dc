//! Process-level tests of `signalbox admin`: the binary drains a route,
//! lists and reverts the action over a real gateway's admin API (in
//! process, in front of mocks on port 0), takes the token from the
//! environment or a file, and never prints it.

use std::process::Output;

use signalbox_testkit::{Harness, chat_body};

use crate::common::{bin, success_stdout, temp_file};

const CONFIG: &str = r#"
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
routes:
  - { id: us-large, provider: primary, model: m, region: us }
  - { id: us-small, provider: secondary, model: m, region: us }
aliases:
  - { name: chat, routes: [us-large, us-small] }
admin:
  tokens:
    - { name: oncall, role: operator, token: { env: ONCALL_TOKEN } }
"#;

const TOKEN: &str = "oncall-secret-token";

async fn admin(url: &str, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.arg("admin").args(args).args(["--url", url]);
    cmd.env_remove("SIGNALBOX_ADMIN_TOKEN");
    if let Some(t) = token {
        cmd.env("SIGNALBOX_ADMIN_TOKEN", t);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_list_and_revert_over_the_admin_api() {
    let h = Harness::start(
        CONFIG,
        &["primary", "secondary"],
        &[("ONCALL_TOKEN", TOKEN.into())],
    )
    .await;
    let url = h.gateway.base_url();
    let out = admin(
        &url,
        &[
            "drain",
            "us-large",
            "--for",
            "30m",
            "--reason",
            "provider incident",
        ],
        Some(TOKEN),
    )
    .await;
    let stdout = success_stdout(&out);
    assert!(stdout.starts_with("act-"), "{stdout}");
    assert!(
        stdout.contains("drain route us-large") && stdout.contains("provider incident"),
        "{stdout}"
    );
    assert!(stdout.contains("by oncall (operator)"), "{stdout}");
    let id = stdout.split_whitespace().next().unwrap().to_string();
    let r = h.chat(&chat_body("chat", "hi")).await;
    assert_eq!(
        r.headers()["x-signalbox-route"].to_str().unwrap(),
        "us-small"
    );
    let request_id = r.headers()["x-signalbox-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    // `signalbox decisions --action` lists what the drain changed.
    let log = h.gateway.gateway().decision_log().unwrap().clone();
    log.flush().await;
    let db = log.path().to_str().unwrap().to_string();
    let mut cmd = bin();
    cmd.args(["decisions", "--db", &db, "--action", &id, "--since", "1h"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let listed = success_stdout(&out);
    assert!(listed.starts_with(&request_id), "{listed}");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let mut cmd = bin();
    cmd.args([
        "decisions",
        "--db",
        &db,
        "--group-by",
        "route",
        "--since",
        "1h",
    ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let table = success_stdout(&out);
    assert!(table.starts_with("value\trequests\terrors"), "{table}");
    assert!(table.contains("\nus-small\t1\t0.0%\t"), "{table}");

    // The token from a file; the list names the action.
    let (_token_file_dir, token_file) = temp_file("admin-cli", "token", &format!("{TOKEN}\n"));
    let out = admin(
        &url,
        &["actions", "--token-file", token_file.to_str().unwrap()],
        None,
    )
    .await;
    let listed = success_stdout(&out);
    assert!(listed.contains(&id), "{listed}");

    let out = admin(&url, &["revert", &id, "--reason", "recovered"], Some(TOKEN)).await;
    assert!(success_stdout(&out).starts_with(&format!("reverted {id}")));
    let out = admin(&url, &["actions"], Some(TOKEN)).await;
    assert_eq!(success_stdout(&out), "no operator action in force\n");

    // Refusals say why, exit non-zero, and never echo the token.
    let out = admin(&url, &["drain", "nope", "--reason", "x"], Some(TOKEN)).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown route \"nope\""), "{stderr}");
    let out = admin(&url, &["actions"], Some("wrong-token")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("invalid admin token"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-token"));
    let out = admin(&url, &["actions"], None).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SIGNALBOX_ADMIN_TOKEN"), "{stderr}");
    h.stop().await;
}
