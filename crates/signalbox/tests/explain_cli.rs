//! Process-level tests of `signalbox explain`: a record written with the
//! decision log is read back by the binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::temp_dir;
use signalbox_core::DecisionRecord;
use signalbox_decision_log::{DecisionLog, LogOptions};

async fn write_record(db: &Path, request_id: &str) {
    let log = DecisionLog::open(
        db,
        LogOptions {
            queue: 16,
            retention: Duration::ZERO,
            priority: Default::default(),
        },
    )
    .unwrap();
    assert!(log.record(DecisionRecord {
        request_id: request_id.to_string(),
        time_ms: 1_700_000_000_000,
        tenant: "acme".to_string(),
        policy_version: "0123456789ab".to_string(),
        alias: Some("chat".to_string()),
        ranking: vec!["eu".to_string()],
        chosen: Some("eu".to_string()),
        outcome: "served".to_string(),
        status: 200,
        latency_ms: 42,
        ..DecisionRecord::default()
    }));
    log.flush().await;
}

#[tokio::test]
async fn explain_reads_a_record_from_the_log() {
    let dir = temp_dir("explain-db");
    let db = dir.join("decisions.db");
    write_record(&db, "req-123").await;

    let out = common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--db"])
        .arg(&db)
        .arg("req-123")
        .output()
        .unwrap();
    let stdout = common::success_stdout(&out);
    assert!(stdout.starts_with("Why:"), "{stdout}");
    assert!(stdout.contains("eu chosen"), "{stdout}");

    let out = common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--json", "--db"])
        .arg(&db)
        .arg("req-123")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tenant"], "acme");

    let out = common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--db"])
        .arg(&db)
        .arg("req-unknown")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("req-unknown"), "{stderr}");
}

#[tokio::test]
async fn explain_finds_the_log_through_the_config_without_its_secrets() {
    let dir = temp_dir("explain-config");
    let db = dir.join("from-config.db");
    write_record(&db, "req-456").await;
    // examples/residency.yaml needs URLs, keys and a token to load; explain
    // only reads `decision-log.path` (${DECISION_DB:-…}).
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/residency.yaml");
    let out = common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--config"])
        .arg(&config)
        .arg("req-456")
        .env("DECISION_DB", &db)
        .env_remove("ACME_KEY")
        .output()
        .unwrap();
    let stdout = common::success_stdout(&out);
    assert!(stdout.starts_with("Why:"), "{stdout}");
}

#[test]
fn explain_reports_a_missing_log() {
    let db = temp_dir("explain-missing").join("nothing-here.db");
    let out = common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--db"])
        .arg(&db)
        .arg("req-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}
