//! The running totals as the writer keeps them (`totals.rs`): after every
//! step, the table holds exactly the rows below the watermark, and a
//! whole-log aggregate counts exactly the rows in the file, whether or not
//! the pending counts were folded, across a crash, a purge, a trim, a
//! rolled-back batch, two writers on one file and a file of an older build.

use std::time::Duration;

use rusqlite::Connection;
use signalbox_core::DecisionRecord;

use super::*;
use crate::test_support::{TempDb, now_ms, served};
use crate::{GroupBy, LogReader, Query};

const SECOND: u64 = 1_000;

fn parked(db: &TempDb) -> Writer {
    let options = LogOptions {
        queue: 64,
        retention: Duration::ZERO,
        max_bytes: 0,
        priority: Default::default(),
    };
    DecisionLog::open_parked(db.path(), options).unwrap().1
}

/// Records `name-0`, `name-1`… arrived at `at_ms`, each its own latency.
fn records(name: &str, at_ms: u64, n: u64) -> Vec<DecisionRecord> {
    (0..n)
        .map(|i| {
            let mut r = served(&format!("{name}-{i}"), at_ms + i, "acme", "eu-large");
            r.latency_ms = 100 + i;
            r
        })
        .collect()
}

/// One batch through the writer's own path.
fn write(w: &mut Writer, records: Vec<DecisionRecord>) {
    let mut batch: Batch = records.into_iter().map(Box::new).collect();
    w.state.write(&mut batch);
}

fn upto(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    crate::totals::upto(&conn).unwrap().unwrap()
}

/// Rows of the table per key, as the totals should hold them.
type Keys = Vec<(i64, i64, i64, i64)>;

fn keys(conn: &Connection, sql: &str) -> Keys {
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)));
    rows.unwrap().map(Result::unwrap).collect()
}

/// The totals are the rows below the watermark, key by key, and the
/// whole-log aggregate counts every row of the file with its cost.
fn assert_exact(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let totals = keys(
        &conn,
        "SELECT combo, latency_ms, n, cost_nusd FROM totals ORDER BY 1, 2",
    );
    let below = keys(
        &conn,
        "SELECT combo, latency_ms, count(*), coalesce(sum(cost_nusd), 0) FROM decisions
         WHERE id < (SELECT upto FROM totals_upto) GROUP BY 1, 2 ORDER BY 1, 2",
    );
    assert_eq!(
        totals, below,
        "the totals hold the rows below the watermark"
    );
    assert_whole_log(path, &conn);
}

fn assert_whole_log(path: &Path, conn: &Connection) {
    let (rows, cost): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(cost_nusd), 0) FROM decisions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let groups = LogReader::open(path)
        .unwrap()
        .aggregate(&Query::default(), GroupBy::Tenant)
        .unwrap();
    let counted: u64 = groups.iter().map(|g| g.count).sum();
    let summed: f64 = groups.iter().map(|g| g.cost_usd).sum();
    assert_eq!(
        i64::try_from(counted).unwrap(),
        rows,
        "the whole-log aggregate counts every row"
    );
    assert!(
        (summed - cost as f64 / 1e9).abs() < 1e-9,
        "{summed} vs {cost}"
    );
}

fn totals_rows(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT coalesce(sum(n), 0) FROM totals", [], |r| r.get(0))
        .unwrap()
}

/// Recent records wait in memory (the reader counts them from the tail);
/// a due fold takes what arrived more than the lag ago; a fold of all
/// takes the rest; a row arriving below the watermark goes in at once.
#[test]
fn whole_log_aggregates_are_exact_before_and_after_a_fold() {
    let db = TempDb::new("fold");
    let mut w = parked(&db);
    let now = now_ms();
    write(&mut w, records("recent", now - 10 * SECOND, 5));
    assert_eq!(totals_rows(db.path()), 0, "nothing folded yet");
    assert_exact(db.path());

    // A batch after the fold interval folds what is older than the lag.
    write(&mut w, records("old", now - 300 * SECOND, 4));
    w.state.last_fold = Instant::now().checked_sub(FOLD_INTERVAL).unwrap();
    write(&mut w, records("newer", now - 5 * SECOND, 3));
    assert_eq!(
        totals_rows(db.path()),
        4,
        "the old records folded, not the recent"
    );
    assert!(upto(db.path()) <= crate::schema::first_id(now - 10 * SECOND));
    assert_exact(db.path());

    // Arrived before the watermark: into the totals in its own batch.
    write(&mut w, records("late", now - 600 * SECOND, 2));
    assert_eq!(totals_rows(db.path()), 6);
    assert_exact(db.path());

    w.state.fold_all();
    assert_eq!(totals_rows(db.path()), 14);
    assert_exact(db.path());
}

/// A writer that stopped without folding (a crash) leaves rows above the
/// watermark: readers count them, and the next writer folds them at open.
#[test]
fn a_crashed_writer_s_tail_is_counted_then_folded_at_open() {
    let db = TempDb::new("crash");
    let now = now_ms();
    {
        let mut w = parked(&db);
        write(&mut w, records("before", now - 300 * SECOND, 3));
        w.state.fold_all();
        write(&mut w, records("after", now - 200 * SECOND, 4));
        // Dropped without its stopping fold.
    }
    assert_eq!(totals_rows(db.path()), 3);
    assert_exact(db.path());
    let mut w = parked(&db);
    assert_eq!(totals_rows(db.path()), 7, "folded at open, once");
    assert_exact(db.path());
    write(&mut w, records("next", now - 100 * SECOND, 2));
    w.state.fold_all();
    assert_eq!(totals_rows(db.path()), 9);
    assert_exact(db.path());
}

/// Retention deleting rows that were never folded: nothing is subtracted
/// for them, and the writer's pending counts lose them too.
#[test]
fn a_purge_of_unfolded_rows_stays_exact() {
    let db = TempDb::new("purge-tail");
    let mut w = parked(&db);
    let now = now_ms();
    write(&mut w, records("folded", now - 50 * SECOND, 2));
    w.state.fold_all();
    write(&mut w, records("expiring", now - 40 * SECOND, 3));
    write(&mut w, records("kept", now - SECOND, 4));
    w.state.retention = Duration::from_secs(20);
    w.state.purge();
    assert_eq!(count_rows(db.path()), 4);
    assert_exact(db.path());
    w.state.fold_all();
    assert_eq!(totals_rows(db.path()), 4);
    assert_exact(db.path());
}

/// The size limit deleting folded and unfolded rows alike.
#[test]
fn a_trim_of_unfolded_rows_stays_exact() {
    let db = TempDb::new("trim-tail");
    let mut w = parked(&db);
    let now = now_ms();
    write(&mut w, records("folded", now - 40 * SECOND, 20));
    w.state.fold_all();
    write(&mut w, records("tail", now - 20 * SECOND, 20));
    write(&mut w, records("last", now - SECOND, 20));
    w.state.max_bytes = 1;
    w.state.trim();
    let left = count_rows(db.path());
    assert!(left < 60, "{left} rows left");
    assert_exact(db.path());
    w.state.fold_all();
    assert_eq!(totals_rows(db.path()), left);
    assert_exact(db.path());
}

fn count_rows(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM decisions", [], |r| r.get(0))
        .unwrap()
}

/// A batch that rolls back (its late row cannot be added to the totals)
/// leaves nothing pending; the rows pending before it stay pending.
#[test]
fn a_rolled_back_batch_leaves_no_pending_counts() {
    let db = TempDb::new("rollback");
    let mut w = parked(&db);
    let now = now_ms();
    write(&mut w, records("folded", now - 30 * SECOND, 2));
    w.state.fold_all();
    write(&mut w, records("pending", now - 20 * SECOND, 3));
    let conn = Connection::open(db.path()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER fail BEFORE INSERT ON totals WHEN NEW.latency_ms = 4242
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    let mut batch = records("lost", now - 10 * SECOND, 4);
    let mut late = served("lost-late", now - 600 * SECOND, "acme", "eu-large");
    late.latency_ms = 4242;
    batch.push(late);
    write(&mut w, batch);
    assert_eq!(w.state.counters.write_errors.load(Ordering::Relaxed), 5);
    conn.execute_batch("DROP TRIGGER fail").unwrap();
    assert_eq!(count_rows(db.path()), 5);
    assert_exact(db.path());
    write(&mut w, records("next", now - SECOND, 2));
    w.state.fold_all();
    assert_eq!(totals_rows(db.path()), 7);
    assert_exact(db.path());
}

/// A schema-3 file written before the watermark: its totals cover every
/// row, so the first writer that opens it sets the watermark past them.
#[test]
fn an_old_file_without_the_watermark_covers_every_row() {
    let db = TempDb::new("old-file");
    let now = now_ms();
    {
        let mut w = parked(&db);
        write(&mut w, records("old", now - 30 * SECOND, 5));
        w.state.fold_all();
    }
    // As a build of schema 3 left it: no watermark.
    let conn = Connection::open(db.path()).unwrap();
    conn.execute_batch("DROP TABLE totals_upto; PRAGMA user_version = 3")
        .unwrap();
    // Read as it is: the totals are the whole log.
    assert_whole_log(db.path(), &conn);
    let mut w = parked(&db);
    // Opened for writing, it moves to schema 4, which an older build
    // refuses rather than count its records into the totals twice.
    assert_eq!(
        crate::schema::user_version(&conn).unwrap(),
        crate::schema::SCHEMA_VERSION
    );
    assert_eq!(crate::schema::SCHEMA_VERSION, 4);
    let max: i64 = conn
        .query_row("SELECT max(id) FROM decisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(upto(db.path()), max + 1);
    assert_exact(db.path());
    write(&mut w, records("new", now - 10 * SECOND, 3));
    assert_exact(db.path());
    w.state.fold_all();
    assert_eq!(totals_rows(db.path()), 8);
    assert_exact(db.path());
}

/// A draining gateway and its successor writing the same file: each
/// batch sees the other's and reads the pending counts back, so neither
/// folds past rows it does not hold.
#[test]
fn two_writers_on_one_file_stay_exact() {
    let db = TempDb::new("two-writers");
    let now = now_ms();
    let mut a = parked(&db);
    let mut b = parked(&db);
    write(&mut a, records("a", now - 30 * SECOND, 3));
    write(&mut b, records("b", now - 25 * SECOND, 4));
    assert_exact(db.path());
    a.state.fold_all();
    assert_eq!(
        totals_rows(db.path()),
        7,
        "the other writer's rows folded too"
    );
    assert_exact(db.path());
    write(&mut b, records("b-next", now - 5 * SECOND, 2));
    write(&mut b, records("b-late", now - 100 * SECOND, 1));
    assert_eq!(
        totals_rows(db.path()),
        8,
        "below the other's watermark: late"
    );
    b.state.fold_all();
    assert_eq!(totals_rows(db.path()), 10);
    assert_exact(db.path());
    a.state.fold_all();
    assert_eq!(totals_rows(db.path()), 10, "nothing counted twice");
    assert_exact(db.path());
}
