//! Process-level tests of `signalbox explain`: a record written with the
//! decision log is read back by the binary.

use std::path::Path;
use std::time::Duration;

use crate::common::temp_dir;
use signalbox_core::DecisionRecord;
use signalbox_decision_log::{DecisionLog, LogOptions};

async fn write_record(db: &Path, request_id: &str) {
    write_records(db, &[(request_id, None, "acme")]).await;
}

/// Writes one record per `(gateway id, caller's x-request-id, tenant)`.
async fn write_records(db: &Path, records: &[(&str, Option<&str>, &str)]) {
    let log = open_log(db);
    for (i, (request_id, caller, tenant)) in (0..).zip(records) {
        assert!(log.record(record(request_id, *caller, tenant, i)));
    }
    log.flush().await;
}

fn open_log(db: &Path) -> DecisionLog {
    DecisionLog::open(
        db,
        LogOptions {
            queue: 16,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap()
}

fn record(request_id: &str, caller: Option<&str>, tenant: &str, i: u64) -> DecisionRecord {
    DecisionRecord {
        request_id: request_id.to_string(),
        caller_request_id: caller.map(str::to_string),
        time_ms: 1_700_000_000_000 + i,
        tenant: tenant.to_string(),
        policy_version: "0123456789ab".to_string(),
        alias: Some("chat".to_string()),
        ranking: vec!["eu".to_string()],
        chosen: Some("eu".to_string()),
        outcome: "served".to_string(),
        status: 200,
        latency_ms: 42,
        ..DecisionRecord::default()
    }
}

#[tokio::test]
async fn explain_reads_a_record_from_the_log() {
    let dir = temp_dir("explain-db");
    let db = dir.path().join("decisions.db");
    write_record(&db, "req-123").await;

    let out = crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--db"])
        .arg(&db)
        .arg("req-123")
        .output()
        .unwrap();
    let stdout = crate::common::success_stdout(&out);
    assert!(stdout.starts_with("Why:"), "{stdout}");
    assert!(stdout.contains("eu chosen"), "{stdout}");

    let out = crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--json", "--db"])
        .arg(&db)
        .arg("req-123")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tenant"], "acme");

    let out = crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
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
    let db = dir.path().join("from-config.db");
    write_record(&db, "req-456").await;
    // examples/residency.yaml needs URLs, keys and a token to load; explain
    // only reads `decision-log.path` (${DECISION_DB:-…}).
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/residency.yaml");
    let out = crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--config"])
        .arg(&config)
        .arg("req-456")
        .env("DECISION_DB", &db)
        .env_remove("ACME_KEY")
        .output()
        .unwrap();
    let stdout = crate::common::success_stdout(&out);
    assert!(stdout.starts_with("Why:"), "{stdout}");
}

#[test]
fn explain_reports_a_missing_log() {
    let dir = temp_dir("explain-missing");
    let db = dir.path().join("nothing-here.db");
    let out = crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["explain", "--db"])
        .arg(&db)
        .arg("req-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test]
async fn explain_finds_a_record_by_either_id_and_never_guesses() {
    let dir = temp_dir("explain-ids");
    let db = dir.path().join("ids.db");
    write_records(
        &db,
        &[
            ("0193aaaa", Some("shared-1"), "acme"),
            ("0193bbbb", Some("shared-1"), "globex"),
            ("0193cccc", Some("mine-1"), "acme"),
        ],
    )
    .await;
    let explain = |args: &[&str]| {
        crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
            .args(["explain", "--json", "--db"])
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let tenant_of = |out: &std::process::Output| {
        let v: serde_json::Value =
            serde_json::from_str(&crate::common::success_stdout(out)).unwrap();
        (
            v["request_id"].as_str().unwrap().to_owned(),
            v["tenant"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        tenant_of(&explain(&["0193bbbb"])),
        ("0193bbbb".into(), "globex".into())
    );
    assert_eq!(
        tenant_of(&explain(&["mine-1"])),
        ("0193cccc".into(), "acme".into())
    );
    assert_eq!(
        tenant_of(&explain(&["--tenant", "acme", "shared-1"])),
        ("0193aaaa".into(), "acme".into())
    );

    let out = explain(&["shared-1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("was sent by 2 requests"), "{stderr}");
    assert!(stderr.contains("0193aaaa  tenant acme"), "{stderr}");
    assert!(stderr.contains("0193bbbb  tenant globex"), "{stderr}");
    assert!(stderr.contains("--tenant"), "{stderr}");

    let out = explain(&["--tenant", "initech", "shared-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(tenant initech)"));
}

/// A request for which a warned route was moved after the others names the
/// move, the warning and the order tried; one for which nothing moved
/// names nothing.
#[tokio::test]
async fn explain_names_a_warned_route_moved_back_for_the_request() {
    let dir = temp_dir("explain-reordered");
    let db = dir.path().join("reordered.db");
    let log = open_log(&db);
    let mut moved = record("req-moved", None, "acme", 0);
    moved.ranking = vec!["us-large".into(), "eu".into()];
    moved.reordered = Some(Box::new(signalbox_core::ReorderRecord {
        demoted: vec![signalbox_core::DemotionRecord {
            route: "us-large".into(),
            kind: signalbox_core::DemotionKind::QualityWarning,
            reason: "quality warning: weather-tools tool-call 0.50 < 0.95".into(),
            share: 0.25,
        }],
        order: vec!["eu".into(), "us-large".into()],
    }));
    assert!(log.record(moved));
    assert!(log.record(record("req-kept", None, "acme", 1)));
    log.flush().await;
    let explain = |id: &str| {
        let out = crate::common::bin_in(Path::new(env!("CARGO_MANIFEST_DIR")))
            .args(["explain", "--db"])
            .arg(&db)
            .arg(id)
            .output()
            .unwrap();
        crate::common::success_stdout(&out)
    };
    let stdout = explain("req-moved");
    assert!(
        stdout.contains(
            "eu chosen (ranked 2 of 2 eligible); us-large ranked lower (quality_warning)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  us-large ranked lower (quality_warning): quality warning: weather-tools \
             tool-call 0.50 < 0.95 (it keeps its place for 25% of requests; this one was not \
             among them)\n  tried in order: eu, us-large\n"
        ),
        "{stdout}"
    );
    assert!(!explain("req-kept").contains("ranked lower"));
}
