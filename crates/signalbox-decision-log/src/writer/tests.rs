use std::time::Duration;

use rusqlite::Connection;

use super::*;
use crate::test_support::{TempDb, failed, now_ms, refused, served};
use crate::{LogReader, Query};

const DAY: Duration = Duration::from_secs(86_400);

fn options(queue: usize) -> LogOptions {
    LogOptions {
        queue,
        retention: DAY,
        max_bytes: 0,
        priority: Default::default(),
    }
}

fn count(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM decisions", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn round_trip() {
    let db = TempDb::new("round-trip");
    let log = DecisionLog::open(db.path(), options(16)).unwrap();
    let record = served("req-1", now_ms(), "acme", "eu-large");
    assert!(log.record(record.clone()));
    log.flush().await;

    let reader = log.reader().unwrap();
    assert_eq!(reader.get("req-1").unwrap(), Some(record));
    assert_eq!(reader.get("unknown").unwrap(), None);
    assert_eq!(
        log.stats(),
        LogStats {
            written: 1,
            dropped: 0,
            write_errors: 0
        }
    );
}

/// The key is the gateway's own id, so a second record under a taken key is
/// a bug or an attack, never an update: it fails (counted) and the first
/// record stays. (Before schema 2 the second replaced the first.)
#[tokio::test]
async fn a_taken_key_is_never_replaced() {
    let db = TempDb::new("no-replace");
    let log = DecisionLog::open(db.path(), options(16)).unwrap();
    let first = served("req-1", now_ms(), "acme", "eu-large");
    let mut second = refused("req-1", now_ms(), "globex");
    second.latency_ms = 999;
    assert!(log.record(first.clone()));
    assert!(log.record(second));
    log.flush().await;

    assert_eq!(log.reader().unwrap().get("req-1").unwrap(), Some(first));
    assert_eq!(count(db.path()), 1);
    assert_eq!(log.stats().write_errors, 1);
    assert_eq!(log.stats().written, 1);
}

#[tokio::test]
async fn route_column_falls_back_to_last_attempt() {
    let db = TempDb::new("route-column");
    let log = DecisionLog::open(db.path(), options(16)).unwrap();
    assert!(log.record(failed("f", now_ms(), "acme", "us-small")));
    assert!(log.record(refused("r", now_ms(), "acme")));
    log.flush().await;

    let conn = Connection::open(db.path()).unwrap();
    let route = |id: &str| -> Option<String> {
        conn.query_row(
            "SELECT c.route FROM decisions d JOIN combos c ON c.id = d.combo
             WHERE d.request_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(route("f").as_deref(), Some("us-small"));
    assert_eq!(route("r"), None);
}

#[tokio::test]
async fn full_queue_drops_and_counts() {
    let db = TempDb::new("queue-full");
    let (log, writer) = DecisionLog::open_paused(db.path(), options(1)).unwrap();
    assert!(log.record(served("kept", now_ms(), "acme", "eu-large")));
    assert!(!log.record(served("dropped-1", now_ms(), "acme", "eu-large")));
    assert!(!log.record(served("dropped-2", now_ms(), "acme", "eu-large")));
    assert_eq!(log.stats().dropped, 2);
    assert_eq!(log.stats().written, 0);

    writer.start().unwrap();
    log.flush().await;
    let reader = log.reader().unwrap();
    assert!(reader.get("kept").unwrap().is_some());
    assert!(reader.get("dropped-1").unwrap().is_none());
    assert_eq!(
        log.stats(),
        LogStats {
            written: 1,
            dropped: 2,
            write_errors: 0
        }
    );
}

#[tokio::test]
async fn flush_waits_for_room_when_the_queue_is_full() {
    let db = TempDb::new("flush-full");
    let (log, writer) = DecisionLog::open_paused(db.path(), options(1)).unwrap();
    assert!(log.record(served("queued", now_ms(), "acme", "eu-large")));
    // The queue is full, so the flush marker takes the blocking path; the
    // writer starts only afterwards, from another task.
    let flusher = {
        let log = log.clone();
        tokio::spawn(async move { log.flush().await })
    };
    tokio::task::yield_now().await;
    writer.start().unwrap();
    flusher.await.unwrap();
    assert!(log.reader().unwrap().get("queued").unwrap().is_some());
    assert_eq!(log.stats().written, 1);
}

#[tokio::test]
async fn write_errors_are_counted_and_flush_still_resolves() {
    let db = TempDb::new("write-error");
    let log = DecisionLog::open(db.path(), options(16)).unwrap();
    Connection::open(db.path())
        .unwrap()
        .execute_batch("DROP TABLE decisions")
        .unwrap();
    assert!(log.record(served("lost", now_ms(), "acme", "eu-large")));
    log.flush().await;
    assert_eq!(
        log.stats(),
        LogStats {
            written: 0,
            dropped: 0,
            write_errors: 1
        }
    );
}

#[tokio::test]
async fn retention_deletes_old_rows_at_open() {
    let db = TempDb::new("retention");
    let long_ago = now_ms() - 30 * 86_400_000;
    {
        let log = DecisionLog::open(db.path(), options(16)).unwrap();
        assert!(log.record(served("old", long_ago, "acme", "eu-large")));
        assert!(log.record(served("new", now_ms(), "acme", "eu-large")));
        log.flush().await;
        // Written after the purge at open, so both are still there.
        assert_eq!(count(db.path()), 2);
    }

    let log = DecisionLog::open(db.path(), options(16)).unwrap();
    let reader = log.reader().unwrap();
    assert!(reader.get("old").unwrap().is_none());
    assert!(reader.get("new").unwrap().is_some());
}

#[tokio::test]
async fn zero_retention_keeps_everything() {
    let db = TempDb::new("retention-zero");
    let keep_all = LogOptions {
        queue: 16,
        retention: Duration::ZERO,
        max_bytes: 0,
        priority: Default::default(),
    };
    {
        let log = DecisionLog::open(db.path(), keep_all.clone()).unwrap();
        assert!(log.record(served("ancient", 1_000, "acme", "eu-large")));
        log.flush().await;
    }
    let log = DecisionLog::open(db.path(), keep_all).unwrap();
    assert!(log.reader().unwrap().get("ancient").unwrap().is_some());
}

#[tokio::test]
async fn ten_thousand_records() {
    let db = TempDb::new("ten-thousand");
    let log = DecisionLog::open(db.path(), options(10_000)).unwrap();
    let base = now_ms();
    for i in 0..10_000_u64 {
        assert!(log.record(served(&format!("req-{i:05}"), base + i, "acme", "eu-large")));
    }
    log.flush().await;

    assert_eq!(count(db.path()), 10_000);
    assert_eq!(log.stats().written, 10_000);
    let newest = log
        .reader()
        .unwrap()
        .query(&Query {
            limit: 1,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(newest[0].request_id, "req-09999");
}

#[test]
fn schema_is_versioned_and_reopens() {
    let db = TempDb::new("schema");
    drop(DecisionLog::open(db.path(), options(1)).unwrap());
    drop(DecisionLog::open(db.path(), options(1)).unwrap());
    let conn = Connection::open(db.path()).unwrap();
    assert_eq!(
        crate::schema::user_version(&conn).unwrap(),
        crate::schema::SCHEMA_VERSION
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // Records of ~2 KB pack several to a page (see schema.rs).
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(page_size, 16_384);
}

#[test]
fn processes_opening_a_new_file_at_once_migrate_it_once() {
    let db = TempDb::new("concurrent-open");
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        let opened: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    DecisionLog::open(db.path(), options(1)).map(drop)
                })
            })
            .collect();
        for o in opened {
            o.join().unwrap().unwrap();
        }
    });
    let conn = Connection::open(db.path()).unwrap();
    assert_eq!(
        crate::schema::user_version(&conn).unwrap(),
        crate::schema::SCHEMA_VERSION
    );
}

#[test]
fn newer_schema_is_refused() {
    let db = TempDb::new("future");
    Connection::open(db.path())
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = DecisionLog::open(db.path(), options(1)).unwrap_err();
    assert!(
        matches!(err, LogError::UnsupportedSchema { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&db.path().display().to_string()));
    assert!(matches!(
        LogReader::open(db.path()),
        Err(LogError::UnsupportedSchema { found: 99, .. })
    ));
}

#[test]
fn unopenable_path_names_the_path() {
    let path = std::env::temp_dir().join("signalbox-no-such-dir-for-decision-log/x/log.db");
    let err = DecisionLog::open(&path, options(1)).unwrap_err();
    assert!(matches!(err, LogError::Open { .. }));
    assert!(
        err.to_string()
            .contains("signalbox-no-such-dir-for-decision-log"),
        "{err}"
    );
    assert_eq!(err.metric_label(), "open");
}

#[test]
fn handle_is_cheap_to_share() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug>() {}
    assert_traits::<DecisionLog>();
}

/// The scheduling policy of the calling thread (`/proc/thread-self/stat`
/// field 41: 0 normal, 5 `SCHED_IDLE`).
#[cfg(target_os = "linux")]
fn own_policy() -> u32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace().nth(38).unwrap().parse().unwrap()
}

/// The calling thread's nice value (`/proc/thread-self/stat`).
#[cfg(target_os = "linux")]
fn own_nice() -> i64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace().nth(16).unwrap().parse().unwrap()
}

/// Behind, the writer runs at normal priority; once the load is light, at
/// its own (an empty queue alone is not enough: see `Boost`). (The
/// default writer's idle priority is checked in `tests/writer_priority.rs`,
/// a process of its own, since boosted writers of other tests would show.)
#[cfg(target_os = "linux")]
#[test]
fn a_writer_behind_is_raised_and_lowered_once_caught_up() {
    std::thread::spawn(|| {
        let lever = std::sync::Arc::new(Lever::new(WriterPriority::Idle));
        lever.started().unwrap();
        assert_eq!(own_policy(), 5);
        let mut boost = Boost::new(std::sync::Arc::clone(&lever));
        boost.batch(super::SMALL_BATCH);
        assert_eq!(own_policy(), 5, "a batch that is not behind raises nothing");
        boost.batch(super::BEHIND);
        if lever.refused.load(Ordering::Relaxed) {
            // No right to raise a priority here (not root, no CAP_SYS_NICE):
            // the writer says so once and stays where it was.
            assert_eq!(own_policy(), 5);
            return;
        }
        assert_eq!(own_policy(), 0, "normal scheduling while behind");
        assert_eq!(own_nice(), -5, "a little above request handling");
        boost.caught_up();
        assert_eq!(
            own_policy(),
            0,
            "an empty queue after a big batch is a saturated machine: still raised"
        );
        boost.batch(super::SMALL_BATCH - 1);
        boost.caught_up();
        assert_eq!(own_policy(), 5, "idle again once the load is light");
        // Another thread (a sender) can raise the writer too.
        let other = std::sync::Arc::clone(&lever);
        std::thread::spawn(move || other.raise()).join().unwrap();
        assert_eq!(own_policy(), 0, "raised by the sender that put it behind");
        lever.lower();
        assert_eq!(own_policy(), 5);
        let normal = Lever::new(WriterPriority::Normal);
        normal.raise();
        assert!(
            !normal.raised.load(Ordering::Relaxed),
            "a normal writer has nothing to raise"
        );
    })
    .join()
    .unwrap();
}
