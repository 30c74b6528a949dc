//! The table layout (schema 4: decisions, their combinations and shapes,
//! the running totals and their watermark),
//! its version (`PRAGMA user_version`), opening for writing (migrating) and
//! reading, the id ↔ time mapping, and retention by age and by size.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use crate::LogError;

/// The newest schema version this build writes and reads: 4 is the
/// compact layout of 3 plus the running totals' watermark (`totals.rs`).
/// The number moved so that an older build refuses the file rather than
/// write to it: it would add every record to the totals, which this
/// build's readers count again from the tail above the watermark.
pub(crate) const SCHEMA_VERSION: i64 = 4;

/// The first version of the compact layout (combinations, shapes, values);
/// below it, the JSON layout of `legacy.rs`.
pub(crate) const COMPACT_VERSION: i64 = 3;

/// The first version with the `caller_request_id` column (the JSON
/// layout of versions 1 and 2, still read as it is; see `legacy.rs`).
pub(crate) const CALLER_ID_VERSION: i64 = 2;

/// Low bits of a decision's `id` that number records within one
/// millisecond; the high bits are the arrival time. So the table is kept
/// in time order, every index entry carries the time for free, and no
/// time column or time index is needed.
pub(crate) const SEQ_BITS: u32 = 12;

/// The page size of a new file: large pages pack the small rows and make
/// the scans of aggregates cheaper.
const PAGE_SIZE: i64 = 16_384;

/// How long a connection waits for another one's lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The JSON layout of schema versions 1 and 2, by the version it upgraded
/// from: one row per record holding the whole record as JSON. A file in
/// this layout is read as it is (`legacy.rs`) and converted to the current
/// one by the first writer that opens it (`migrate.rs`).
#[cfg(test)]
pub(crate) const LEGACY: [&str; 2] = [
    "CREATE TABLE decisions (
        request_id     TEXT PRIMARY KEY,
        time_ms        INTEGER NOT NULL,
        tenant         TEXT NOT NULL,
        route          TEXT,
        outcome        TEXT NOT NULL,
        status         INTEGER NOT NULL,
        policy_version TEXT NOT NULL,
        record         TEXT NOT NULL
    );
    CREATE INDEX decisions_time ON decisions (time_ms);
    CREATE INDEX decisions_tenant_time ON decisions (tenant, time_ms);
    CREATE INDEX decisions_route_time ON decisions (route, time_ms);
    CREATE INDEX decisions_outcome_time ON decisions (outcome, time_ms);",
    "ALTER TABLE decisions ADD COLUMN caller_request_id TEXT;
    CREATE INDEX decisions_caller ON decisions (caller_request_id, tenant)
        WHERE caller_request_id IS NOT NULL;",
];

/// Schema 3 (docs/decision-log.md#schema). A routine record is a row of
/// ids and numbers plus its values against a shared shape; any other record
/// keeps its whole JSON in `body`. Indexed: the request id (lookups), the
/// combination with the latency and cost (filters and aggregates read only
/// this index), and the caller's id (lookups; partial: most requests send
/// none).
pub(crate) const CREATE: &str = "
    CREATE TABLE combos (
        id             INTEGER PRIMARY KEY,
        tenant         TEXT NOT NULL,
        alias          TEXT,
        route          TEXT,
        provider       TEXT,
        model_version  TEXT,
        prompt_version TEXT,
        policy_version TEXT NOT NULL,
        intent         TEXT,
        tools          INTEGER,
        outcome        TEXT NOT NULL,
        degraded       TEXT,
        actions        TEXT,
        skips          TEXT
    );
    CREATE TABLE shapes (
        id             INTEGER PRIMARY KEY,
        policy_version TEXT NOT NULL,
        template       BLOB NOT NULL,
        defaults       BLOB NOT NULL
    );
    CREATE TABLE decisions (
        id                INTEGER PRIMARY KEY,
        request_id        NOT NULL,
        caller_request_id TEXT,
        trace_id,
        combo             INTEGER NOT NULL,
        shape             INTEGER,
        latency_ms        INTEGER NOT NULL,
        cost_nusd         INTEGER,
        body              BLOB NOT NULL
    );
    CREATE UNIQUE INDEX decisions_request ON decisions (request_id);
    CREATE INDEX decisions_combo ON decisions (combo, latency_ms, cost_nusd);
    CREATE INDEX decisions_caller ON decisions (caller_request_id)
        WHERE caller_request_id IS NOT NULL;
    CREATE VIEW decisions_view AS
    SELECT d.id >> 12 AS time_ms,
           CASE typeof(d.request_id) WHEN 'blob' THEN lower(hex(d.request_id))
                ELSE d.request_id END AS request_id,
           d.caller_request_id, c.tenant, c.alias, c.route, c.provider,
           c.model_version, c.prompt_version, c.policy_version, c.intent, c.tools,
           c.outcome, c.degraded, c.actions, c.skips, d.latency_ms,
           d.cost_nusd / 1e9 AS cost_usd, d.shape IS NULL AS full,
           CASE WHEN d.shape IS NULL THEN d.body END AS record
    FROM decisions d JOIN combos c ON c.id = d.combo;";

/// Opens (creating if needed) the database for writing: WAL, so readers never
/// wait for the writer; `synchronous=NORMAL`, since losing the last few
/// decisions on power loss is acceptable and an fsync per batch is not.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, LogError> {
    let open_err = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // Only takes effect on a new, empty file (before WAL is switched on).
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(open_err)?;
    // `journal_mode` answers with the mode in force; it is not an error if it
    // differs (e.g. an in-memory database), so the answer is ignored.
    retry_while_busy(|| {
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        })
    })
    .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    // 16 MiB of page cache (the default is 2 MiB): the indexes' hot pages
    // stay in memory between batches instead of being read back.
    conn.pragma_update(None, "cache_size", -16_384)
        .map_err(open_err)?;
    // Checkpoint every 64 MiB of WAL instead of 16: the index pages a
    // batch dirties are mostly dirtied again by the next ones, so a longer
    // interval copies each of them to the file fewer times (the WAL file
    // is reused, so it stays at about this size).
    conn.pragma_update(None, "wal_autocheckpoint", 4096)
        .map_err(open_err)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Runs `step` again while the database is busy, for at most
/// [`BUSY_TIMEOUT`]. Switching a new file to WAL needs an exclusive lock and
/// SQLite answers "database is locked" at once, without the busy handler,
/// when another process opening the same new file holds it.
fn retry_while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && tokio::time::Instant::now() < deadline =>
            {
                // Start-up only (opening the log), never a request path.
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Opens an existing database read-only. Never creates the file.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, LogError> {
    let open_err = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // Aggregates read the whole combination index: mapped, its pages are
    // read in place instead of copied through `pread` (the mapping goes
    // with the connection, which lives for one query).
    conn.pragma_update(None, "mmap_size", 1_i64 << 30)
        .map_err(open_err)?;
    Ok(conn)
}

/// Reads the schema version of an open database.
pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Brings the schema up to [`SCHEMA_VERSION`], refusing files from the
/// future: a new file gets the current tables; a file in the JSON layout
/// (versions 1 and 2) is converted in place, in one transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LogError> {
    let open_err = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    // The version is read inside a write transaction, so two processes
    // opening a new file at once migrate it once: the second waits for the
    // first (busy timeout), then finds the work done.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_err)?;
    let version = user_version(&tx).map_err(open_err)?;
    match version {
        SCHEMA_VERSION => return Ok(()),
        // The compact layout of an older build: its totals cover every row,
        // so the watermark goes past the last one (`totals.rs`).
        COMPACT_VERSION => crate::totals::ensure_watermark(&tx).map_err(open_err)?,
        0 => tx
            .execute_batch(&format!("{CREATE}{}", crate::totals::CREATE))
            .map_err(open_err)?,
        1 | 2 => crate::migrate::from_json(&tx, version).map_err(|reason| LogError::Migrate {
            path: path.to_owned(),
            found: version,
            reason,
        })?,
        _ => {
            return Err(LogError::UnsupportedSchema {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(open_err)?;
    tx.commit().map_err(open_err)
}

/// SQLite integers are signed; times past `i64::MAX` ms do not occur.
pub(crate) fn to_sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The first decision `id` of millisecond `ms` (ids below it arrived
/// earlier). Times too large for an id map past every id.
pub(crate) fn first_id(ms: u64) -> i64 {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| ms.checked_mul(1 << SEQ_BITS))
        .unwrap_or(i64::MAX)
}

/// The arrival time of the decision `id`.
pub(crate) fn time_of(id: i64) -> u64 {
    u64::try_from(id >> SEQ_BITS).unwrap_or(0)
}

/// The ids of `[since, until)`.
pub(crate) fn id_range(since_ms: Option<u64>, until_ms: Option<u64>) -> (i64, i64) {
    (
        since_ms.map_or(i64::MIN, first_id),
        until_ms.map_or(i64::MAX, first_id),
    )
}

/// Deletes every record older than `retention`, returning how many went.
/// A zero retention keeps everything.
pub(crate) fn purge(conn: &Connection, retention: Duration) -> rusqlite::Result<usize> {
    if retention.is_zero() {
        return Ok(0);
    }
    let now_ms = signalbox_core::clock::unix_ms();
    let keep_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    let cutoff_ms = now_ms.saturating_sub(keep_ms);
    crate::audit::purge(conn, cutoff_ms)?;
    crate::config_text::purge(conn, cutoff_ms)?;
    crate::quality_scores::purge(conn, cutoff_ms)?;
    delete_below(conn, first_id(cutoff_ms))
}

/// Deletes the records below `cutoff` and takes those the running totals
/// hold out of them, in one transaction (a writer whose pending totals
/// held some of them reads those back at its next batch: `totals.rs`).
fn delete_below(conn: &Connection, cutoff: i64) -> rusqlite::Result<usize> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    crate::totals::subtract_below(&tx, cutoff)?;
    let deleted = tx.execute("DELETE FROM decisions WHERE id < ?1", params![cutoff])?;
    tx.commit()?;
    Ok(deleted)
}

/// The bytes the file's live pages take (free pages are reused by new
/// rows, so a file trimmed this way stops growing).
pub(crate) fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pragma = |name: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
    };
    let used = (pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?;
    Ok(u64::try_from(used).unwrap_or(0))
}

/// When the file's live pages pass `max_bytes`, deletes the oldest records
/// until about a tenth of the limit is free (estimated from the span of
/// ids, so uneven traffic may take a second round). `0` means no limit.
pub(crate) fn trim_to_size(conn: &Connection, max_bytes: u64) -> rusqlite::Result<usize> {
    let mut deleted = 0;
    // The share is an estimate; a few rounds settle uneven traffic.
    for _ in 0..4 {
        let n = trim_once(conn, max_bytes)?;
        if n == 0 {
            break;
        }
        deleted += n;
    }
    Ok(deleted)
}

fn trim_once(conn: &Connection, max_bytes: u64) -> rusqlite::Result<usize> {
    if max_bytes == 0 {
        return Ok(0);
    }
    let used = used_bytes(conn)?;
    if used <= max_bytes {
        return Ok(0);
    }
    let (lo, hi): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT (SELECT min(id) FROM decisions), (SELECT max(id) FROM decisions)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(0);
    };
    let excess = used - max_bytes / 10 * 9;
    let share = (excess as f64 / used as f64).clamp(0.0, 1.0);
    let cutoff = lo
        .saturating_add(((hi - lo) as f64 * share) as i64)
        .max(lo + 1);
    delete_below(conn, cutoff)
}

/// A writing connection for a side table (audit, configuration versions):
/// opened per write, waiting out the writer's locks, the table created if
/// it is not there yet (files of older builds stay readable).
pub(crate) fn open_side(path: &Path, create: &str) -> Result<Connection, LogError> {
    let conn = Connection::open(path).map_err(|source| LogError::Open {
        path: path.to_owned(),
        source,
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(create)?;
    Ok(conn)
}

/// Whether the table `name` exists (a side table is created on first write).
pub(crate) fn has_table(conn: &Connection, name: &str) -> Result<bool, LogError> {
    Ok(table_exists(conn, name)?)
}

/// [`has_table`] with SQLite's own error (for the purge, which reports those).
pub(crate) fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![name],
        |row| row.get(0),
    )
}
