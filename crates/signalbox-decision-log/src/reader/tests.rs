#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rusqlite::Connection;
use signalbox_core::DecisionRecord;

use super::*;
use crate::test_support::{TempDb, failed, now_ms, refused, served};
use crate::{DecisionLog, LogOptions};

fn ids(records: &[DecisionRecord]) -> Vec<&str> {
    records.iter().map(|r| r.request_id.as_str()).collect()
}

/// Six records a second apart, oldest first.
async fn fixture(db: &TempDb) -> (LogReader, u64) {
    let log = DecisionLog::open(
        db.path(),
        LogOptions {
            queue: 64,
            retention: Duration::from_secs(86_400),
            priority: Default::default(),
        },
    )
    .unwrap();
    let t = now_ms() - 60_000;
    for record in [
        served("a", t, "acme", "eu-large"),
        served("b", t + 1_000, "globex", "us-small"),
        refused("c", t + 2_000, "acme"),
        failed("d", t + 3_000, "acme", "us-small"),
        served("e", t + 4_000, "acme", "us-small"),
        served("f", t + 5_000, "globex", "eu-large"),
    ] {
        assert!(log.record(record));
    }
    log.flush().await;
    (log.reader().unwrap(), t)
}

#[tokio::test]
async fn query_filters_and_orders_newest_first() {
    let db = TempDb::new("query");
    let (reader, t) = fixture(&db).await;
    let q = |f: fn(&mut Query)| {
        let mut q = Query::default();
        f(&mut q);
        q
    };

    assert_eq!(
        ids(&reader.query(&Query::default()).unwrap()),
        ["f", "e", "d", "c", "b", "a"]
    );
    assert_eq!(
        ids(&reader
            .query(&q(|q| q.tenant = Some("acme".into())))
            .unwrap()),
        ["e", "d", "c", "a"]
    );
    assert_eq!(
        ids(&reader
            .query(&q(|q| q.route = Some("us-small".into())))
            .unwrap()),
        ["e", "d", "b"]
    );
    assert_eq!(
        ids(&reader
            .query(&q(|q| q.outcome = Some("refused".into())))
            .unwrap()),
        ["c"]
    );
    let since = Query {
        since_ms: Some(t + 3_000),
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&since).unwrap()), ["f", "e", "d"]);
    let combined = Query {
        tenant: Some("acme".into()),
        route: Some("us-small".into()),
        outcome: Some("served".into()),
        since_ms: Some(t),
        limit: 10,
    };
    assert_eq!(ids(&reader.query(&combined).unwrap()), ["e"]);
    assert!(
        reader
            .query(&q(|q| q.tenant = Some("nobody' OR '1'='1".into())))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn query_limit_is_applied_and_clamped() {
    let db = TempDb::new("limit");
    let (reader, _) = fixture(&db).await;
    let limited = |limit| Query {
        limit,
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&limited(2)).unwrap()), ["f", "e"]);
    assert_eq!(ids(&reader.query(&limited(0)).unwrap()), ["f"]);
    assert_eq!(reader.query(&limited(usize::MAX)).unwrap().len(), 6);
    assert_eq!(Query::default().limit, 100);
    assert_eq!(limited(0).effective_limit(), 1);
    assert_eq!(limited(5_000).effective_limit(), 1_000);
}

#[tokio::test]
async fn async_wrappers() {
    let db = TempDb::new("async");
    let (reader, _) = fixture(&db).await;
    let got = reader.get_async("c".to_owned()).await.unwrap().unwrap();
    assert_eq!(got.outcome, "refused");
    assert!(reader.get_async("zzz".to_owned()).await.unwrap().is_none());
    let listed = reader
        .query_async(Query {
            tenant: Some("globex".into()),
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&listed), ["f", "b"]);
}

#[test]
fn reads_a_file_with_no_writer() {
    let db = TempDb::new("no-writer");
    let record = served("solo", now_ms(), "acme", "eu-large");
    {
        // Written and closed the way a stopped gateway leaves it.
        let mut conn = schema::open_writer(db.path()).unwrap();
        let tx = conn.transaction().unwrap();
        schema::insert(&tx, &record, &mut Vec::new()).unwrap();
        tx.commit().unwrap();
    }
    let reader = LogReader::open(db.path()).unwrap();
    assert_eq!(reader.path(), db.path());
    assert_eq!(reader.get("solo").unwrap(), Some(record));
    assert_eq!(reader.query(&Query::default()).unwrap().len(), 1);
}

#[test]
fn missing_file_is_a_clear_error() {
    let db = TempDb::new("missing");
    let err = LogReader::open(db.path()).unwrap_err();
    assert!(matches!(err, LogError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&db.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("does not exist"), "{message}");
    assert!(
        !db.path().exists(),
        "opening a reader must not create the file"
    );
}

#[test]
fn other_sqlite_files_are_refused() {
    let db = TempDb::new("not-a-log");
    Connection::open(db.path())
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let err = LogReader::open(db.path()).unwrap_err();
    assert!(
        matches!(err, LogError::UnsupportedSchema { found: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a decision log"), "{err}");
}

#[test]
fn reader_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug>() {}
    assert_traits::<LogReader>();
}
