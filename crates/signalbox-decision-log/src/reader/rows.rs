//! Owns reading rows of the current layout: which combinations a query
//! admits, the newest rows among them (by the cheaper of two plans), and
//! turning a row back into its record (rendering its shape). The figures
//! aggregates need are in `stats.rs`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use signalbox_core::DecisionRecord;

use super::Query;
use crate::codec::{self, Values};
use crate::combo::Combo;
use crate::key::{self, Key};
use crate::{LogError, schema};

/// The columns a [`Row`] is read from.
const COLUMNS: &str =
    "id, request_id, caller_request_id, trace_id, combo, shape, body, latency_ms, cost_nusd";

/// Rows of the newest ones looked at to choose a plan.
const SAMPLE: i64 = 4096;

/// One stored row.
pub(crate) struct Row {
    pub id: i64,
    request_id: String,
    caller: Option<String>,
    trace: Option<String>,
    pub combo: i64,
    shape: Option<i64>,
    body: Vec<u8>,
    pub latency_ms: u64,
    pub cost_nusd: Option<i64>,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let body = match r.get_ref(6)? {
            ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
            _ => Vec::new(),
        };
        Ok(Self {
            id: r.get(0)?,
            request_id: key::read(r.get_ref(1)?).unwrap_or_default(),
            caller: r.get(2)?,
            trace: key::read(r.get_ref(3)?),
            combo: r.get(4)?,
            shape: r.get(5)?,
            body,
            latency_ms: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
            cost_nusd: r.get(8)?,
        })
    }

    pub fn time_ms(&self) -> u64 {
        schema::time_of(self.id)
    }

    /// Newest first; within one millisecond, by request id descending (the
    /// order the JSON layout listed them in).
    pub fn newest_first(a: &Self, b: &Self) -> std::cmp::Ordering {
        (b.time_ms(), &b.request_id).cmp(&(a.time_ms(), &a.request_id))
    }
}

/// The rows a query may return: a time range and, when it filters on a
/// shared identifier, the combinations it admits.
pub(crate) struct Selection {
    pub lo: i64,
    pub hi: i64,
    /// `None`: every combination.
    pub combos: Option<Vec<i64>>,
    /// Every combination of the log, by id.
    pub all: HashMap<i64, Combo>,
}

impl Selection {
    pub fn of(conn: &Connection, q: &Query) -> Result<Self, LogError> {
        let all: HashMap<i64, Combo> = Combo::load_all(conn)?.into_iter().collect();
        let (lo, hi) = schema::id_range(q.since_ms, q.until_ms);
        let filtered =
            q.tenant.is_some() || q.route.is_some() || q.outcome.is_some() || !q.facets.is_empty();
        let combos = filtered.then(|| {
            let mut ids: Vec<i64> = all
                .iter()
                .filter(|(_, c)| admits(q, c))
                .map(|(id, _)| *id)
                .collect();
            ids.sort_unstable();
            ids
        });
        Ok(Self {
            lo,
            hi,
            combos,
            all,
        })
    }

    /// Whether `row` is selected (for rows found by id, not by plan).
    pub fn holds(&self, row: &Row) -> bool {
        (self.lo..self.hi).contains(&row.id)
            && self
                .combos
                .as_ref()
                .is_none_or(|c| c.binary_search(&row.combo).is_ok())
    }

    /// `combo IN (…)` for the admitted combinations (our own integers).
    pub(crate) fn in_list(&self) -> Option<String> {
        self.combos.as_ref().map(|ids| {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!("combo IN ({})", list.join(","))
        })
    }
}

fn admits(q: &Query, c: &Combo) -> bool {
    let eq =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    eq(&q.tenant, Some(&c.tenant))
        && eq(&q.route, c.route.as_deref())
        && eq(&q.outcome, Some(&c.outcome))
        && q.facets.iter().all(|f| f.admits(c))
}

/// The newest `limit` selected rows, plus every selected row of the last
/// one's millisecond (so that ordering ties by request id is exact).
pub(crate) fn newest(
    conn: &Connection,
    sel: &Selection,
    limit: usize,
) -> Result<Vec<Row>, LogError> {
    let mut rows = page(conn, sel, sel.lo, sel.hi, limit)?;
    if rows.len() == limit
        && let Some(last) = rows.last()
    {
        let ms = last.time_ms();
        let (lo, hi) = (
            sel.lo.max(schema::first_id(ms)),
            sel.hi.min(schema::first_id(ms + 1)),
        );
        let seen: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let same_ms = page(conn, sel, lo, hi, 1 << schema::SEQ_BITS)?;
        rows.extend(same_ms.into_iter().filter(|r| !seen.contains(&r.id)));
    }
    rows.sort_by(Row::newest_first);
    rows.truncate(limit);
    Ok(rows)
}

/// The newest `limit` selected rows in `[lo, hi)`. With no identifier
/// filter, a walk back along the table. With one, either the same walk
/// skipping other combinations (when they are common among the newest
/// rows, so the walk soon finds enough) or the rows of the admitted
/// combinations through their index (when they are rare).
fn page(
    conn: &Connection,
    sel: &Selection,
    lo: i64,
    hi: i64,
    limit: usize,
) -> Result<Vec<Row>, LogError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = match sel.in_list() {
        None => format!(
            "SELECT {COLUMNS} FROM decisions WHERE id >= ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        ),
        Some(_) if sel.combos.as_ref().is_some_and(Vec::is_empty) => return Ok(Vec::new()),
        Some(in_list) if common(conn, &in_list, lo, hi)? => format!(
            "SELECT {COLUMNS} FROM decisions WHERE id >= ?1 AND id < ?2 AND +{in_list}
             ORDER BY id DESC LIMIT ?3"
        ),
        // Rare: the newest ids from the index alone (it holds them), then
        // only those rows; sorting every match's whole row would cost more.
        Some(in_list) => format!(
            "SELECT {COLUMNS} FROM decisions WHERE id IN
             (SELECT id FROM decisions INDEXED BY decisions_combo
              WHERE {in_list} AND id >= ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3)
             ORDER BY id DESC"
        ),
    };
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![lo, hi, limit], Row::read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether at least one in a hundred of the newest rows of `[lo, hi)`
/// belongs to the admitted combinations.
fn common(conn: &Connection, in_list: &str, lo: i64, hi: i64) -> Result<bool, LogError> {
    let (n, hits): (i64, i64) = conn.query_row(
        &format!(
            "SELECT count(*), coalesce(sum({in_list}), 0) FROM
             (SELECT combo FROM decisions WHERE id >= ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3)"
        ),
        params![lo, hi, SAMPLE],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(n > 0 && hits * 100 >= n)
}

/// The rows whose gateway id is `id`.
pub(crate) fn by_key(conn: &Connection, id: &str) -> Result<Vec<Row>, LogError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM decisions WHERE request_id = ?1"
    ))?;
    let rows = stmt.query_map(params![Key::of(id)], Row::read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest [`super::MAX_LIMIT`] rows whose caller sent `id`.
pub(crate) fn by_caller(conn: &Connection, id: &str) -> Result<Vec<Row>, LogError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM decisions WHERE caller_request_id = ?1
         ORDER BY id DESC LIMIT {}",
        super::MAX_LIMIT
    ))?;
    let rows = stmt.query_map(params![id], Row::read)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Turns rows back into records, reading each shape once.
#[derive(Default)]
pub(crate) struct Decoder {
    shapes: HashMap<i64, (Vec<u8>, Values)>,
}

impl Decoder {
    pub fn decode(&mut self, conn: &Connection, row: Row) -> Result<DecisionRecord, LogError> {
        let Some(shape_id) = row.shape else {
            return Ok(serde_json::from_slice(&row.body)?);
        };
        let damaged = |what: &str| LogError::Damaged(format!("{what} (row {})", row.id));
        let (template, defaults) = match self.shapes.entry(shape_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let (template, defaults): (Vec<u8>, Vec<u8>) = conn.query_row(
                    "SELECT template, defaults FROM shapes WHERE id = ?1",
                    params![shape_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let defaults = Values::decode_all(&defaults).ok_or_else(|| damaged("shape"))?;
                if codec::placeholders(&template) != defaults.digits.len() {
                    return Err(damaged("shape"));
                }
                e.insert((template, defaults))
            }
        };
        let values = Values::decode_diff(defaults, &row.body).ok_or_else(|| damaged("values"))?;
        let json = codec::render(template, &values.digits).ok_or_else(|| damaged("values"))?;
        let mut record: DecisionRecord = serde_json::from_slice(&json)?;
        if record.signals.len() != values.signals.len() {
            return Err(damaged("signals"));
        }
        for (s, v) in record.signals.iter_mut().zip(values.signals) {
            s.value = v;
        }
        record.time_ms = row.time_ms();
        record.request_id = row.request_id;
        record.caller_request_id = row.caller;
        record.trace_id = row.trace;
        Ok(record)
    }
}
