//! The table layout, its migrations (`PRAGMA user_version`), and the few
//! statements the writer runs. Readers only need the column names.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior, params};
use signalbox_core::DecisionRecord;

use crate::LogError;

/// The newest schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// The first version with the `caller_request_id` column.
pub(crate) const CALLER_ID_VERSION: i64 = 2;

/// The page size of a new file. Why not SQLite's 4 KiB: a record's JSON is
/// ~2 KB, so two rarely fit one 4 KiB page and each record took a whole
/// page (4.2 KB on disk per record); larger pages pack them, which cuts
/// the bytes the writer puts through the WAL and the checkpoints.
const PAGE_SIZE: i64 = 16_384;

/// How long a connection waits for another one's lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations, indexed by the version they upgrade from. Each runs in one
/// transaction together with the `user_version` bump.
pub(crate) const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 0 -> 1: the decisions table. The whole record is kept as JSON; the
    // other columns exist only to filter and order without parsing it.
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
    // 1 -> 2: `request_id` is now always the gateway's own id; the caller's
    // `x-request-id`, which any tenant may choose, moves to a column of its
    // own that is not unique (before, a caller's id was the key, and
    // `INSERT OR REPLACE` let anyone overwrite another tenant's record).
    // Rows written before keep their key (the caller's id when one was
    // sent) and no caller id. Adding a column rewrites nothing.
    "ALTER TABLE decisions ADD COLUMN caller_request_id TEXT;
    CREATE INDEX decisions_caller ON decisions (caller_request_id, tenant)
        WHERE caller_request_id IS NOT NULL;",
];

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
    Ok(conn)
}

/// Reads the schema version of an open database.
pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Brings the schema up to [`SCHEMA_VERSION`], refusing files from the future.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), LogError> {
    let open_err = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    loop {
        // The version is read inside a write transaction, so two processes
        // opening a new file at once migrate it once: the second waits for
        // the first (busy timeout), then finds the work done.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_err)?;
        let version = user_version(&tx).map_err(open_err)?;
        if version > SCHEMA_VERSION {
            return Err(LogError::UnsupportedSchema {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(sql).map_err(open_err)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(open_err)?;
        tx.commit().map_err(open_err)?;
    }
}

/// The route a record is filed under: the serving route, else the last one
/// tried, else none.
pub(crate) fn route_of(record: &DecisionRecord) -> Option<&str> {
    record
        .chosen
        .as_deref()
        .or_else(|| record.attempts.last().map(|a| a.route.as_str()))
}

/// SQLite integers are signed; times past `i64::MAX` ms do not occur.
pub(crate) fn to_sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Why one record could not be inserted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InsertError {
    #[error("cannot encode record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot insert record: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot encode record: {0}")]
    Utf8(String),
}

/// Inserts one record, encoding it into `buf` (reused across records, so
/// the writer does not allocate for it). Never replaces: a record whose key
/// is taken fails (and is counted) rather than erase the one there.
pub(crate) fn insert(
    tx: &Transaction<'_>,
    record: &DecisionRecord,
    buf: &mut Vec<u8>,
) -> Result<(), InsertError> {
    buf.clear();
    serde_json::to_writer(&mut *buf, record)?;
    // serde_json writes UTF-8 only; the check is cheap next to the insert.
    let json = std::str::from_utf8(buf).map_err(|e| InsertError::Utf8(e.to_string()))?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO decisions
            (request_id, caller_request_id, time_ms, tenant, route, outcome, status,
             policy_version, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    stmt.execute(params![
        record.request_id,
        record.caller_request_id,
        to_sql_ms(record.time_ms),
        record.tenant,
        route_of(record),
        record.outcome,
        record.status,
        record.policy_version,
        json,
    ])?;
    Ok(())
}

/// Deletes every record older than `retention`, returning how many went.
/// A zero retention keeps everything.
pub(crate) fn purge(conn: &Connection, retention: Duration) -> rusqlite::Result<usize> {
    if retention.is_zero() {
        return Ok(0);
    }
    let now_ms = signalbox_core::clock::unix_ms();
    let keep_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    let cutoff = to_sql_ms(now_ms.saturating_sub(keep_ms));
    conn.execute("DELETE FROM decisions WHERE time_ms < ?1", params![cutoff])
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
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![name],
        |row| row.get(0),
    )?)
}
