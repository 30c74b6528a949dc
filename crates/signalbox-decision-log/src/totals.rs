//! Owns the running totals: per combination and latency, how many records
//! the log holds and their summed cost. An aggregate over the whole log
//! reads them (thousands of rows) instead of counting millions; a window of
//! it still counts rows (`reader/stats.rs`).
//!
//! **What they cover.** The `totals` table counts exactly the rows with
//! `id < upto`, a watermark kept in the one-row table `totals_upto` of the
//! same file; the rows at or above it (the last minute or so of arrivals)
//! are the *tail*, which a whole-log reader counts itself and adds, reading
//! the watermark, the totals and the tail in one read transaction (one WAL
//! snapshot), so a fold committed meanwhile can neither hide nor double a
//! row. A schema-3 file of an older build has no watermark: its totals
//! cover every row, so the first writer to open it sets `upto` past the
//! last row (in its opening transaction).
//!
//! **Why not per batch.** Upserting a batch's counts cost one B-tree
//! upsert per record (real latencies rarely repeat within a 100 ms batch):
//! 12 % of the writer's instructions. The writer now keeps the tail's
//! counts in memory ([`Pending`]) and *folds* them into the table (upsert,
//! advance `upto`) in the transaction of the batch that is due, about every
//! ten seconds; over that span a key repeats, and one statement per key
//! replaces one per record.
//!
//! **Why by arrival bucket, with a lag.** A row's id is its request's
//! *arrival* time, but it is written when the request finishes: ids are
//! not written in order, and a long stream lands below rows written before
//! it. So the tail is not "what was written since the last fold". Counts
//! are kept per second of arrival ([`BUCKET_SHIFT`]); a fold takes only the
//! buckets that arrived more than [`LAG_MS`] ago, when nearly every request
//! of theirs has finished, and moves `upto` to the end of the last one taken.
//! A row that still arrives below `upto` (a request slower than the lag) is
//! *late*: it is upserted into the totals in its own batch's transaction,
//! as every row was before, so the invariant holds whatever the order.
//!
//! **Exactness.** Every path keeps "totals = rows below `upto`; memory =
//! rows at or above it": a batch that rolls back, a purge that deleted rows
//! of the tail, or another writer on the file (a draining gateway and its
//! successor; each batch counts itself in `totals_upto.batches`, checked
//! under the write lock) makes the writer read its pending counts back
//! from the table (`GROUP BY` over the tail, [`Pending::load`]); a crash loses only
//! memory, and the next writer folds the tail when it opens; purge and trim
//! subtract only what the totals hold ([`subtract_below`]). Rows deleted by
//! hand (the sqlite3 shell) are not subtracted: whole-log aggregates would
//! then count them.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::FastBuild;
use crate::schema::SEQ_BITS;

/// The watermark's table, set past the last row of `decisions`: the
/// totals cover every row there is (none, in a new file).
macro_rules! watermark {
    () => {
        "
    CREATE TABLE totals_upto (upto INTEGER NOT NULL, batches INTEGER NOT NULL);
    INSERT INTO totals_upto
    SELECT coalesce(max(id) + 1, -9223372036854775808), 0 FROM decisions;"
    };
}

/// The tables, created with the others (schema 4; `totals_upto` added to
/// schema-3 files by [`ensure_watermark`]).
pub(crate) const CREATE: &str = concat!(
    "
    CREATE TABLE totals (
        combo      INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        n          INTEGER NOT NULL,
        cost_nusd  INTEGER NOT NULL,
        PRIMARY KEY (combo, latency_ms)
    ) WITHOUT ROWID;",
    watermark!()
);

/// Pending counts are kept per 2^22 ids: 1,024 ms of arrival time.
pub(crate) const BUCKET_SHIFT: u32 = SEQ_BITS + 10;

/// How long after its arrival a second of records is folded: requests
/// that take longer (long streams) are written as late rows, one upsert
/// each. A minute covers nearly every LLM call, and keeps the tail a whole-
/// log reader counts to about a minute of traffic.
pub(crate) const LAG_MS: u64 = 60_000;

/// Pending keys past which everything is folded at once, lag or not
/// (~3 MiB of memory; at 2,000 records/s of distinct latencies that is
/// about half a minute).
const MAX_KEYS: usize = 65_536;

/// Pending rows past which everything is folded at once: the tail a whole-
/// log reader counts stays under ~0.1 s of reading.
const MAX_ROWS: usize = 200_000;

/// Counts per `(combo, latency_ms)`: `(rows, cost_nusd)`.
type Counts = HashMap<(i64, i64), (i64, i64), FastBuild>;

/// The rows of one bucket of arrival time.
struct Bucket {
    /// `id >> BUCKET_SHIFT` of its rows.
    key: i64,
    rows: usize,
    counts: Counts,
}

/// Which pending counts a fold takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// Those that arrived before this id (whole buckets only).
    Before(i64),
    /// All of them (opening, closing, before a purge, or too many).
    All,
}

/// The writer's view of the totals: the watermark, the tail's counts by
/// arrival bucket, and the late rows of the batch being written.
#[derive(Default)]
pub(crate) struct Pending {
    upto: i64,
    /// The table's count of batches written, as of this writer's last one:
    /// another number means another writer (a gateway still draining while
    /// its successor starts) or a purge changed the tail.
    batches: i64,
    /// Ascending by key; every row with `id >= upto` is in one of them.
    buckets: Vec<Bucket>,
    /// Rows of this batch below `upto`: added to the table at its end.
    late: Counts,
    rows: usize,
    keys: usize,
}

impl Pending {
    /// Reads the watermark and counts the tail (`id >= upto`) from the table.
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let (upto, batches) = state(conn)?;
        let mut pending = Self {
            upto,
            batches,
            ..Self::default()
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT id >> {BUCKET_SHIFT}, combo, latency_ms, count(*), coalesce(sum(cost_nusd), 0)
             FROM decisions WHERE id >= ?1 GROUP BY 1, 2, 3"
        ))?;
        let mut rows = stmt.query(params![pending.upto])?;
        while let Some(r) = rows.next()? {
            let (key, combo, latency, n, cost) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let i = pending.bucket(key);
            let b = &mut pending.buckets[i];
            b.rows += usize::try_from(n).unwrap_or(0);
            b.counts.insert((combo, latency), (n, cost));
            pending.rows += usize::try_from(n).unwrap_or(0);
            pending.keys += 1;
        }
        Ok(pending)
    }

    /// Starts a batch (in its transaction, which holds the write lock):
    /// when another connection wrote to the tail or moved the watermark
    /// since this writer's last batch, the pending counts are read back.
    pub(crate) fn begin_batch(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if state(conn)? != (self.upto, self.batches) {
            *self = Self::load(conn)?;
        }
        Ok(())
    }

    /// Counts one row just inserted (in the batch's transaction).
    pub(crate) fn add(&mut self, id: i64, combo: i64, latency_ms: i64, cost_nusd: Option<i64>) {
        let cost = cost_nusd.unwrap_or(0);
        if id < self.upto {
            bump(&mut self.late, (combo, latency_ms), cost);
            return;
        }
        let key = id >> BUCKET_SHIFT;
        let i = match self.buckets.last() {
            Some(b) if b.key == key => self.buckets.len() - 1,
            _ => self.bucket(key),
        };
        let b = &mut self.buckets[i];
        b.rows += 1;
        self.rows += 1;
        if bump(&mut b.counts, (combo, latency_ms), cost) {
            self.keys += 1;
        }
    }

    /// What the next fold should take: everything when memory or the tail
    /// is too large, else what arrived more than [`LAG_MS`] before `now_ms`.
    pub(crate) fn due(&self, now_ms: u64) -> Fold {
        if self.keys >= MAX_KEYS || self.rows >= MAX_ROWS {
            Fold::All
        } else {
            Fold::Before(crate::schema::first_id(now_ms.saturating_sub(LAG_MS)))
        }
    }

    /// Ends a batch (in its transaction, before its commit): adds its late
    /// rows to the table, folds when `fold` is given, and counts the batch
    /// in the table. If the transaction then rolls back, the caller reads
    /// the state back ([`Pending::load`]).
    pub(crate) fn finish_batch(
        &mut self,
        conn: &Connection,
        fold: Option<Fold>,
    ) -> rusqlite::Result<()> {
        let late = std::mem::take(&mut self.late);
        upsert(conn, late)?;
        if let Some(fold) = fold {
            self.fold(conn, fold)?;
        }
        conn.prepare_cached("UPDATE totals_upto SET upto = ?1, batches = ?2")?
            .execute(params![self.upto, self.batches + 1])?;
        self.batches += 1;
        Ok(())
    }

    /// Adds the buckets `fold` takes to the table and moves the watermark
    /// past them (in the caller's transaction).
    fn fold(&mut self, conn: &Connection, fold: Fold) -> rusqlite::Result<()> {
        let limit = match (fold, self.buckets.last()) {
            (_, None) => return Ok(()),
            (Fold::All, Some(last)) => last.key + 1,
            (Fold::Before(id), Some(_)) => id >> BUCKET_SHIFT,
        };
        let taken = self.buckets.partition_point(|b| b.key < limit);
        let Some(last) = taken.checked_sub(1).map(|i| self.buckets[i].key) else {
            return Ok(());
        };
        let mut merged = Counts::default();
        for b in self.buckets.drain(..taken) {
            self.rows -= b.rows;
            self.keys -= b.counts.len();
            if merged.is_empty() {
                merged = b.counts;
                continue;
            }
            for (key, (n, cost)) in b.counts {
                let e = merged.entry(key).or_default();
                e.0 += n;
                e.1 += cost;
            }
        }
        upsert(conn, merged)?;
        // To the end of the last bucket taken, not to the cutoff: records
        // written from the past (a backfill, a clock set back) stay pending
        // rather than all turn late.
        self.upto = (last + 1)
            .checked_mul(1 << BUCKET_SHIFT)
            .unwrap_or(i64::MAX);
        Ok(())
    }

    /// The index of bucket `key`, made if it is new.
    fn bucket(&mut self, key: i64) -> usize {
        match self.buckets.binary_search_by_key(&key, |b| b.key) {
            Ok(i) => i,
            Err(i) => {
                self.buckets.insert(
                    i,
                    Bucket {
                        key,
                        rows: 0,
                        counts: Counts::default(),
                    },
                );
                i
            }
        }
    }
}

/// Counts one row under `key`; `true` when the key is new.
fn bump(counts: &mut Counts, key: (i64, i64), cost: i64) -> bool {
    let e = counts.entry(key).or_insert((0, 0));
    let new = e.0 == 0;
    e.0 += 1;
    e.1 += cost;
    new
}

/// Adds `counts` to the table (in the caller's transaction).
fn upsert(conn: &Connection, counts: Counts) -> rusqlite::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut upsert = conn.prepare_cached(
        "INSERT INTO totals (combo, latency_ms, n, cost_nusd) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (combo, latency_ms) DO UPDATE
         SET n = n + excluded.n, cost_nusd = cost_nusd + excluded.cost_nusd",
    )?;
    for ((combo, latency), (n, cost)) in counts {
        upsert.execute(params![combo, latency, n, cost])?;
    }
    Ok(())
}

/// The watermark and the count of batches written (a writer's file always
/// has the table).
fn state(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached("SELECT upto, batches FROM totals_upto")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The watermark; `None` in a file without the table (its totals cover
/// every row).
pub(crate) fn upto(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    if !crate::schema::table_exists(conn, "totals_upto")? {
        return Ok(None);
    }
    conn.query_row("SELECT upto FROM totals_upto", [], |r| r.get(0))
        .optional()
}

/// Gives a schema-3 file of an older build its watermark (in the caller's
/// opening transaction): its totals cover every row, so past the last one.
pub(crate) fn ensure_watermark(conn: &Connection) -> rusqlite::Result<()> {
    if crate::schema::table_exists(conn, "totals_upto")? {
        return Ok(());
    }
    conn.execute_batch(watermark!())
}

/// Takes the rows below `cutoff` (about to be deleted, in the same
/// transaction) out of the totals: those below the watermark (the tail's
/// were never added), and moves the watermark up to `cutoff` (the writer's
/// next batch then reads its pending counts back).
pub(crate) fn subtract_below(conn: &Connection, cutoff: i64) -> rusqlite::Result<()> {
    let upto = upto(conn)?.unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO totals (combo, latency_ms, n, cost_nusd)
         SELECT combo, latency_ms, -count(*), -coalesce(sum(cost_nusd), 0)
         FROM decisions WHERE id < ?1 GROUP BY combo, latency_ms
         ON CONFLICT (combo, latency_ms) DO UPDATE
         SET n = n + excluded.n, cost_nusd = cost_nusd + excluded.cost_nusd",
        params![cutoff.min(upto)],
    )?;
    conn.execute("DELETE FROM totals WHERE n <= 0", [])?;
    if cutoff > upto {
        conn.execute("UPDATE totals_upto SET upto = ?1", params![cutoff])?;
    }
    Ok(())
}
