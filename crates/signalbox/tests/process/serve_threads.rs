//! `signalbox serve` on its serving threads: per-core workers sharing the
//! port (`SO_REUSEPORT`), the work-stealing alternative, the per-worker
//! connection counters, warm-up before `/readyz` says ready, a clean exit on
//! SIGTERM, and slow clients against the common soft limit of 1,024 open files.

use std::time::Duration;

use crate::common::process::{Killed, serve, serve_with_soft_nofile, two_mocks};
use crate::common::{TempDir, temp_file};
use signalbox_testkit::{Tricklers, chat_body};

/// `examples/failover.yaml` with `lines` added to its `server` section, in
/// a directory of its own (keep the guard while the gateway runs).
fn failover_with(tag: &str, lines: &str) -> (TempDir, String) {
    let original =
        std::fs::read_to_string(crate::common::repo_root().join("examples/failover.yaml")).unwrap();
    let text = original.replace(
        "server:\n  listen: 127.0.0.1:4000\n",
        &format!("server:\n  listen: 127.0.0.1:4000\n{lines}"),
    );
    assert_ne!(text, original, "the example's server section moved");
    let (dir, path) = temp_file(tag, "failover.yaml", &text);
    (dir, path.to_str().unwrap().to_string())
}

/// The gateway's `/metrics` text.
async fn metrics(client: &reqwest::Client, addr: &str) -> String {
    client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `signalbox_connections_total` by worker label, from `/metrics`.
async fn connections_by_worker(client: &reqwest::Client, addr: &str) -> Vec<(String, u64)> {
    let text = metrics(client, addr).await;
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("signalbox_connections_total{worker=\"")?;
            let (worker, count) = rest.split_once("\"} ")?;
            Some((worker.to_string(), count.trim().parse().ok()?))
        })
        .collect()
}

/// Sends SIGTERM to `serve` and waits up to 10 s for it to exit.
async fn terminate(mut child: Killed) -> Option<std::process::ExitStatus> {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            if let Some(status) = child.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    })
    .await
    .unwrap()
}

/// A client that opens a new connection for every request, so that the
/// kernel picks a listener for each.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

#[tokio::test]
async fn per_core_workers_share_the_port_and_the_connections() {
    let (primary, secondary) = two_mocks().await;
    let (_config_dir, config) = failover_with("per-core", "  threads: 2\n");
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    let (child, addr) = serve(&config, &envs, &[]).await;
    let client = fresh_connections();
    let url = format!("http://{addr}/v1/chat/completions");
    for i in 0..40 {
        let resp = client
            .post(&url)
            .json(&chat_body("chat", &format!("request {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-signalbox-route"], "primary");
    }
    assert_eq!(primary.stats().requests, 40);

    // 40 connections hashed over two listeners: both took some (the chance
    // that one took all is 2^-39), and none was lost. The scrape itself is
    // one more connection, counted before it is answered.
    let counts = connections_by_worker(&client, &addr).await;
    let count = |w: &str| counts.iter().find(|(n, _)| n == w).map_or(0, |(_, c)| *c);
    assert!(count("0") > 0 && count("1") > 0, "{counts:?}");
    assert_eq!(count("0") + count("1"), 41, "{counts:?}");

    // SIGTERM: the workers drain and the process exits cleanly.
    let status = terminate(child)
        .await
        .expect("serve did not exit within 10 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// SIGTERM with a connection open that has sent nothing yet: the drain
/// closes it at once rather than waiting out its (here: hour-long) header
/// deadline.
#[tokio::test]
async fn a_silent_connection_does_not_hold_up_the_drain() {
    let (primary, secondary) = two_mocks().await;
    let (_config_dir, config) =
        failover_with("silent-drain", "  threads: 2\n  header-read-timeout: 1h\n");
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    let (child, addr) = serve(&config, &envs, &[]).await;
    let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The connection is accepted (and waiting for its first bytes) once a
    // request on another connection is answered after it.
    let resp = fresh_connections()
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&chat_body("chat", "after the silent one"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let status = terminate(child)
        .await
        .expect("serve waited on a silent connection after SIGTERM");
    assert!(status.success(), "{status:?}");
    drop(silent);
}

/// `signalbox_warm_up_seconds` by worker label, from `/metrics`.
async fn warm_up_by_worker(client: &reqwest::Client, addr: &str) -> Vec<String> {
    let text = metrics(client, addr).await;
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("signalbox_warm_up_seconds{worker=\"")?;
            Some(rest.split_once('"')?.0.to_string())
        })
        .collect()
}

#[tokio::test]
async fn ready_only_once_every_worker_has_warmed_up() {
    let (primary, secondary) = two_mocks().await;
    let (_config_dir, config) = failover_with("warm-up", "  threads: 2\n");
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    let (_child, addr) = serve(&config, &envs, &[]).await;
    let client = fresh_connections();
    // Before it is ready, /readyz may only say it is warming up.
    let mut ready = false;
    for _ in 0..400 {
        let resp = client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap();
        if status == 200 {
            assert_eq!(body["status"], "ready", "{body}");
            ready = true;
            break;
        }
        assert_eq!(body["status"], "warming", "{body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "not ready after 10 s");
    // Ready means both per-core workers warmed up (the token encoder
    // loaded, each thread's estimator state primed) before serving.
    let mut workers = warm_up_by_worker(&client, &addr).await;
    workers.sort();
    assert_eq!(workers, ["0", "1"]);
}

#[tokio::test]
async fn the_work_stealing_scheduler_serves_on_one_listener() {
    let (primary, secondary) = two_mocks().await;
    let (_config_dir, config) = failover_with(
        "work-stealing",
        "  scheduler: work-stealing\n  threads: 2\n",
    );
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    let (_child, addr) = serve(&config, &envs, &[]).await;
    let client = fresh_connections();
    for i in 0..5 {
        let resp = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&chat_body("chat", &format!("request {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let counts = connections_by_worker(&client, &addr).await;
    assert_eq!(counts, vec![("shared".to_string(), 6)]);
}

#[test]
fn check_names_a_bad_thread_count() {
    let (_config_dir, config) = failover_with("bad-threads", "  threads: 0\n");
    let out = crate::common::bin()
        .args(["check", &config])
        .env("PRIMARY_URL", "http://127.0.0.1:9001/v1")
        .env("SECONDARY_URL", "http://127.0.0.1:9002/v1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        format!("{stdout}{stderr}")
            .contains("server.threads: 0 threads: must be between 1 and 1024"),
        "{stdout}{stderr}"
    );
}

/// The soft and hard open-file limits of process `pid`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace();
    let soft = fields.next().unwrap().to_string();
    let hard = fields.next().unwrap().to_string();
    (soft, hard)
}

/// The scenario of the issue: 1,200 trickling connections against a
/// process started with a soft limit of 1,024 open files, while a normal
/// client keeps being served. Before, the gateway stopped accepting at
/// about 1,020 connections (out of descriptors), with nothing logged.
#[tokio::test]
async fn twelve_hundred_trickling_clients_under_a_soft_limit_of_1024() {
    const TRICKLERS: usize = 1200;
    // This process holds the client ends of the 1,200 connections.
    let own = signalbox_gateway::raise_open_file_limit().unwrap();
    if own.after.is_some_and(|n| n < 4096) {
        eprintln!(
            "skipped: the hard open-file limit ({:?}) is below 4,096",
            own.after
        );
        return;
    }
    let (primary, secondary) = two_mocks().await;
    let (_config_dir, config) = failover_with("trickle-1200", "  threads: 2\n");
    let envs = [
        ("PRIMARY_URL", primary.base_url()),
        ("SECONDARY_URL", secondary.base_url()),
    ];
    let (child, addr) = serve_with_soft_nofile(1024, &config, &envs, &[]).await;
    let (soft, hard) = open_file_limits(child.0.id());
    assert_eq!(soft, hard, "serve did not raise its soft open-file limit");

    let tricklers = Tricklers::start(
        addr.parse().unwrap(),
        TRICKLERS,
        Some(Duration::from_secs(1)),
    )
    .await;
    assert_eq!(tricklers.connected(), TRICKLERS);
    let client = fresh_connections();
    for i in 0..20 {
        let resp = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&chat_body("chat", &format!("request {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(primary.stats().requests, 20);
    // Every trickler is still held: the default header deadline is 30 s.
    assert_eq!(tricklers.closed(), 0);
    tricklers.stop();
}
