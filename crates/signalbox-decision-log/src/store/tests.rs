use std::time::Duration;

use rusqlite::Connection;
use signalbox_core::{OutcomeClass, SkipKind, SkipRecord};

use crate::test_support::{TempDb, attempt, gateway_like, now_ms};
use crate::{DecisionLog, LogOptions, LogReader, explain, schema};

fn options() -> LogOptions {
    LogOptions {
        queue: 4096,
        retention: Duration::ZERO,
        max_bytes: 0,
        priority: Default::default(),
    }
}

/// (rows kept against a shape, rows kept whole, shapes, longest routine body).
fn layout(path: &std::path::Path) -> (i64, i64, i64, i64) {
    let conn = Connection::open(path).unwrap();
    conn.query_row(
        "SELECT (SELECT count(*) FROM decisions WHERE shape IS NOT NULL),
                (SELECT count(*) FROM decisions WHERE shape IS NULL),
                (SELECT count(*) FROM shapes),
                (SELECT coalesce(max(length(body)), 0) FROM decisions WHERE shape IS NOT NULL)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

#[tokio::test]
async fn routine_records_share_one_shape_and_read_back_exactly() {
    let db = TempDb::new("shapes");
    let log = DecisionLog::open(db.path(), options()).unwrap();
    let t = now_ms() - 60_000;
    let records: Vec<_> = (0..500).map(|i| gateway_like(i, t + i)).collect();
    for r in &records {
        assert!(log.record(r.clone()));
    }
    log.flush().await;
    let (shaped, whole, shapes, longest) = layout(db.path());
    assert_eq!((shaped, whole, shapes), (500, 0, 1));
    assert!(longest <= 64, "values of a routine record: {longest} bytes");
    let reader = log.reader().unwrap();
    for r in &records {
        let back = reader.get(&r.request_id).unwrap().unwrap();
        assert_eq!(&back, r);
        // `signalbox explain` reads the same record, so prints the same.
        assert_eq!(explain(&back), explain(r));
    }
}

/// A reopened log knows its shapes by their text only (fingerprints live in
/// memory): records after the restart find the stored shape, never make a
/// second one, and read back exactly.
#[tokio::test]
async fn after_a_restart_routine_records_find_their_stored_shape() {
    let db = TempDb::new("shapes-reopen");
    let t = now_ms() - 60_000;
    let records: Vec<_> = (0..40).map(|i| gateway_like(i, t + i)).collect();
    for half in records.chunks(20) {
        let log = DecisionLog::open(db.path(), options()).unwrap();
        for r in half {
            assert!(log.record(r.clone()));
        }
        log.flush().await;
    }
    assert_eq!(layout(db.path()).2, 1, "one shape across the restart");
    let reader = LogReader::open(db.path()).unwrap();
    for r in &records {
        assert_eq!(&reader.get(&r.request_id).unwrap().unwrap(), r);
    }
}

#[tokio::test]
async fn every_non_routine_record_keeps_its_whole_json() {
    let db = TempDb::new("whole");
    let log = DecisionLog::open(db.path(), options()).unwrap();
    let t = now_ms() - 60_000;
    let mut failover = gateway_like(1, t);
    failover.attempts.insert(
        0,
        attempt(
            "us-large",
            OutcomeClass::ServerError,
            Some(502),
            30,
            "bad gateway",
        ),
    );
    let mut skipped = gateway_like(2, t + 1);
    skipped.skipped = vec![SkipRecord::new("us-large", SkipKind::CircuitOpen, "open")];
    let mut degraded = gateway_like(3, t + 2);
    degraded.degraded = vec!["fallback-route".into()];
    let mut second_ranked = gateway_like(4, t + 3);
    second_ranked.chosen = Some("us-large".into());
    let mut failed = gateway_like(5, t + 4);
    failed.outcome = "failed".into();
    // Served by its first-ranked route, but a warned route behind it was
    // moved after another: the move is named in full, never in a shape.
    let mut reordered = gateway_like(6, t + 5);
    reordered.reordered = Some(Box::new(signalbox_core::ReorderRecord {
        demoted: vec![signalbox_core::DemotionRecord {
            route: "us-large".into(),
            kind: signalbox_core::DemotionKind::QualityWarning,
            reason: "quality warning: weather-tools tool-call 0.50 < 0.95".into(),
            share: 0.25,
        }],
        order: vec![
            reordered.chosen.clone().unwrap_or_default(),
            "us-large".into(),
        ],
    }));
    assert_eq!(reordered.ranking.first(), reordered.chosen.as_ref());
    let unusual = [
        failover,
        skipped,
        degraded,
        second_ranked,
        failed,
        reordered,
    ];
    for r in &unusual {
        assert!(log.record(r.clone()));
    }
    log.flush().await;
    assert_eq!(layout(db.path()).1, 6, "all kept whole");
    let conn = Connection::open(db.path()).unwrap();
    let reader = log.reader().unwrap();
    for r in &unusual {
        assert_eq!(reader.get(&r.request_id).unwrap().as_ref(), Some(r));
        let json: String = conn
            .query_row(
                "SELECT record FROM decisions_view WHERE request_id = ?1",
                [&r.request_id],
                |row| row.get(0),
            )
            .unwrap();
        let whole: signalbox_core::DecisionRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(&whole, r, "the full explanation is in the row itself");
    }
}

/// A file of schema 2 (the JSON layout) as a build before schema 3 left it.
fn version_2_file(db: &TempDb, records: &[signalbox_core::DecisionRecord]) {
    let conn = Connection::open(db.path()).unwrap();
    conn.execute_batch(schema::LEGACY[0]).unwrap();
    conn.execute_batch(schema::LEGACY[1]).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    for r in records {
        conn.execute(
            "INSERT INTO decisions (request_id, caller_request_id, time_ms, tenant, route,
                 outcome, status, policy_version, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                r.request_id,
                r.caller_request_id,
                schema::to_sql_ms(r.time_ms),
                r.tenant,
                r.chosen,
                r.outcome,
                r.status,
                r.policy_version,
                serde_json::to_string(r).unwrap()
            ],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_version_2_file_is_converted_in_place_and_explains_the_same() {
    let db = TempDb::new("convert-2");
    let t = now_ms() - 60_000;
    let mut routine = gateway_like(7, t);
    routine.caller_request_id = Some("client-7".into());
    let mut degraded = gateway_like(8, t + 1);
    degraded.degraded = vec!["tools-disabled".into()];
    version_2_file(&db, &[routine.clone(), degraded.clone()]);
    let before = LogReader::open(db.path()).unwrap();
    let explained = explain(&before.get(&routine.request_id).unwrap().unwrap());

    let log = DecisionLog::open(db.path(), options()).unwrap();
    let conn = Connection::open(db.path()).unwrap();
    assert_eq!(schema::user_version(&conn).unwrap(), schema::SCHEMA_VERSION);
    assert_eq!(layout(db.path()).0, 1, "the routine one now has a shape");
    let reader = log.reader().unwrap();
    let back = reader.get(&routine.request_id).unwrap().unwrap();
    assert_eq!(back, routine);
    assert_eq!(explain(&back), explained);
    assert_eq!(reader.find("client-7", None).unwrap(), [routine]);
    assert_eq!(
        reader.get(&degraded.request_id).unwrap().as_ref(),
        Some(&degraded)
    );
}

#[test]
fn a_file_that_cannot_be_converted_is_refused_and_left_as_it_was() {
    let db = TempDb::new("convert-broken");
    version_2_file(&db, &[gateway_like(1, now_ms())]);
    Connection::open(db.path())
        .unwrap()
        .execute("UPDATE decisions SET record = '{not json'", [])
        .unwrap();
    let err = DecisionLog::open(db.path(), options()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, crate::LogError::Migrate { found: 2, .. }),
        "{err:?}"
    );
    assert!(
        message.contains(&db.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("move it aside"), "{message}");
    let conn = Connection::open(db.path()).unwrap();
    assert_eq!(schema::user_version(&conn).unwrap(), 2, "unchanged");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM decisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn retention_by_size_deletes_the_oldest_records() {
    let db = TempDb::new("size");
    let t = now_ms() - 3_600_000;
    let n = 20_000;
    {
        let log = DecisionLog::open(db.path(), options()).unwrap();
        for i in 0..n {
            let mut r = gateway_like(i, t + i * 10);
            // Whole records, ~2 KB each: about 40 MB in all.
            r.degraded = vec!["fallback-route".into()];
            while !log.record(r.clone()) {
                log.flush().await;
            }
        }
        log.flush().await;
    }
    let conn = Connection::open(db.path()).unwrap();
    let before = schema::used_bytes(&conn).unwrap();
    let max = 8 << 20;
    assert!(before > max, "{before}");
    let limited = LogOptions {
        max_bytes: max,
        ..options()
    };
    // Trimmed at open, like expired records.
    let log = DecisionLog::open(db.path(), limited).unwrap();
    assert!(schema::used_bytes(&conn).unwrap() <= max);
    let reader = log.reader().unwrap();
    assert!(
        reader
            .get(&gateway_like(0, 0).request_id)
            .unwrap()
            .is_none()
    );
    assert!(
        reader
            .get(&gateway_like(n - 1, 0).request_id)
            .unwrap()
            .is_some()
    );
}
