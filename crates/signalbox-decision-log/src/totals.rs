//! Owns the running totals: per combination and latency, how many records
//! the log holds and their summed cost, kept by the writer in the same
//! transaction as the rows (added per batch, subtracted before a purge
//! deletes rows). An aggregate over the whole log reads them (thousands of
//! rows) instead of counting millions; a window of it still counts rows
//! (`reader/stats.rs`). Rows deleted by hand (the sqlite3 shell) are not
//! subtracted: whole-log aggregates would then count them.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::codec::FastBuild;

/// The table, created with the others (schema 3).
pub(crate) const CREATE: &str = "
    CREATE TABLE totals (
        combo      INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        n          INTEGER NOT NULL,
        cost_nusd  INTEGER NOT NULL,
        PRIMARY KEY (combo, latency_ms)
    ) WITHOUT ROWID;";

/// What the rows inserted since the last flush add.
#[derive(Default)]
pub(crate) struct Pending(HashMap<(i64, i64), (i64, i64), FastBuild>);

impl Pending {
    pub(crate) fn add(&mut self, combo: i64, latency_ms: i64, cost_nusd: Option<i64>) {
        let e = self.0.entry((combo, latency_ms)).or_default();
        e.0 += 1;
        e.1 += cost_nusd.unwrap_or(0);
    }

    /// Adds what is pending to the table (in the caller's transaction).
    pub(crate) fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut upsert = conn.prepare_cached(
            "INSERT INTO totals (combo, latency_ms, n, cost_nusd) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (combo, latency_ms) DO UPDATE
             SET n = n + excluded.n, cost_nusd = cost_nusd + excluded.cost_nusd",
        )?;
        for ((combo, latency), (n, cost)) in self.0.drain() {
            upsert.execute(params![combo, latency, n, cost])?;
        }
        Ok(())
    }
}

/// Subtracts the rows below `cutoff` (about to be deleted, in the same
/// transaction) from the totals.
pub(crate) fn subtract_below(conn: &Connection, cutoff: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO totals (combo, latency_ms, n, cost_nusd)
         SELECT combo, latency_ms, -count(*), -coalesce(sum(cost_nusd), 0)
         FROM decisions WHERE id < ?1 GROUP BY combo, latency_ms
         ON CONFLICT (combo, latency_ms) DO UPDATE
         SET n = n + excluded.n, cost_nusd = cost_nusd + excluded.cost_nusd",
        params![cutoff],
    )?;
    conn.execute("DELETE FROM totals WHERE n <= 0", [])?;
    Ok(())
}
