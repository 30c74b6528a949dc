//! Owns the figures aggregates and `what-changed` are made of: per admitted
//! combination and latency, how many rows and their summed cost. The whole
//! log is read from the running totals the writer keeps (`totals.rs`) plus
//! the tail they do not cover yet (the rows at or above their watermark,
//! about the last minute: read along the table), both in one read
//! transaction, so a fold the writer commits meanwhile is seen entirely or
//! not at all. A
//! window that is a small part of the log is read along the table (its rows are
//! contiguous: the id is the time); a larger one is one pass over the
//! `(combo, latency, cost)` index, split in two halves by combination read
//! on two connections at once (two cores answer 10 M records in about half
//! the time).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params_from_iter};

use super::rows::Selection;
use crate::{LogError, schema};

/// Rows per combination and latency: `(combo, latency_ms, rows, cost_nusd)`.
pub(crate) type Counts = Vec<(i64, u64, u64, f64)>;

/// Below this share of the log's time span, a window is read along the
/// table (a row there costs about ten index entries: measured at 10 M).
const NARROW: f64 = 0.05;

/// The counts of the rows `sel` selects, in the log at `path` (`conn` is
/// open on it).
pub(crate) fn stats(path: &Path, conn: &Connection, sel: &Selection) -> Result<Counts, LogError> {
    // Every statement below reads one snapshot (the whole-log path reads
    // the watermark, the totals and the tail in separate statements).
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Deferred)?;
    let conn: &Connection = &tx;
    let (min, max): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT (SELECT min(id) FROM decisions), (SELECT max(id) FROM decisions)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(Vec::new());
    };
    let (lo, hi) = (sel.lo.max(min), sel.hi.min(max.saturating_add(1)));
    if lo >= hi {
        return Ok(Vec::new());
    }
    if sel.lo <= min && sel.hi > max && schema::has_table(conn, "totals")? {
        return whole(conn, sel, max);
    }
    if ((hi - lo) as f64) < (max - min) as f64 * NARROW {
        let filter = sel
            .in_list()
            .map_or_else(String::new, |l| format!(" AND +{l}"));
        return counts(
            conn,
            &format!(
                "SELECT combo, latency_ms, count(*), total(cost_nusd) FROM decisions
                 WHERE id >= ?1 AND id < ?2{filter} GROUP BY combo, latency_ms"
            ),
            &[lo, hi],
        );
    }
    let mut ids: Vec<i64> = match &sel.combos {
        Some(ids) => ids.clone(),
        None => sel.all.keys().copied().collect(),
    };
    ids.sort_unstable();
    let (first, second) = ids.split_at(ids.len() / 2);
    let half = |ids: &[i64], conn: &Connection| -> Result<Counts, LogError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        counts(
            conn,
            &format!(
                "SELECT combo, latency_ms, count(*), total(cost_nusd) FROM decisions
                 INDEXED BY decisions_combo WHERE combo IN ({}) AND id >= ?1 AND id < ?2
                 GROUP BY combo, latency_ms",
                list.join(",")
            ),
            &[lo, hi],
        )
    };
    std::thread::scope(|s| {
        let other = s.spawn(|| half(second, &schema::open_reader(path)?));
        let mut out = half(first, conn)?;
        out.extend(other.join().map_err(|_| LogError::Closed)??);
        Ok(out)
    })
}

/// The whole log (up to its last row `max`): the running totals, plus the
/// rows of the tail at or above their watermark (none in a file without
/// one: its totals cover every row), grouped and summed as integers.
fn whole(conn: &Connection, sel: &Selection, max: i64) -> Result<Counts, LogError> {
    let filter = sel
        .in_list()
        .map_or_else(String::new, |l| format!(" WHERE {l}"));
    let totals = format!("SELECT combo, latency_ms, n, cost_nusd FROM totals{filter}");
    let upto = crate::totals::upto(conn)?.unwrap_or(i64::MAX);
    if upto > max {
        return counts(
            conn,
            &format!("SELECT combo, latency_ms, n, CAST(cost_nusd AS REAL) FROM ({totals})"),
            &[],
        );
    }
    let tail_filter = sel
        .in_list()
        .map_or_else(String::new, |l| format!(" AND +{l}"));
    counts(
        conn,
        &format!(
            "SELECT combo, latency_ms, sum(n), CAST(sum(cost_nusd) AS REAL) FROM (
                 {totals}
                 UNION ALL
                 SELECT combo, latency_ms, count(*), coalesce(sum(cost_nusd), 0)
                 FROM decisions WHERE id >= ?1 AND id < ?2{tail_filter}
                 GROUP BY combo, latency_ms)
             GROUP BY combo, latency_ms"
        ),
        &[upto, max.saturating_add(1)],
    )
}

/// Runs `sql` (`?1`, `?2`: the id range, when it has them).
fn counts(conn: &Connection, sql: &str, range: &[i64]) -> Result<Counts, LogError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params_from_iter(range), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            r.get::<_, f64>(3)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
