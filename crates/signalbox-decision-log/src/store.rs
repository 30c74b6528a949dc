//! Owns turning one record into one row (writer thread only): its `id`
//! (arrival time and a number within the millisecond), its combination,
//! and either its values against a shape (routine records) or its whole
//! JSON (every other one). Keeps in memory the combinations and shapes it
//! has stored, each shape also by its fingerprint, so a routine record
//! costs one walk of its fields (no JSON) and one insert; only a new
//! combination or shape costs JSON and an extra row.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Statement, params};
use signalbox_core::DecisionRecord;

use crate::codec::{self, FastBuild, Values};
use crate::combo::{Combo, ComboRef};
use crate::key::Key;
use crate::schema::{SEQ_BITS, first_id};
use crate::totals::{Fold, Pending};

/// At most this many shapes per policy version; past it, records that
/// would need a new shape keep their whole JSON instead (a policy whose
/// explanations never repeat must not grow the shapes without end).
pub(crate) const MAX_SHAPES_PER_VERSION: usize = 4096;

/// Millisecond slots remembered before the map starts over (a slot not in
/// it is read back from the table).
const MAX_SLOTS: usize = 65_536;

#[cfg(test)]
mod tests;

/// Why one record could not be inserted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InsertError {
    #[error("cannot encode record: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot insert record: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("arrival time {0} ms cannot be stored (beyond year 30000)")]
    Time(u64),
    #[error("more than 4096 records arrived in millisecond {0}")]
    Slot(u64),
}

/// A shape as the writer knows it.
struct Shape {
    id: i64,
    defaults: Values,
}

/// The writer's state for encoding records.
#[derive(Default)]
pub(crate) struct Store {
    combos: HashMap<u64, Vec<(i64, Combo)>, FastBuild>,
    /// Combinations read from the file, not yet met by a record.
    stored: Vec<(i64, Combo)>,
    /// Shapes by their text (what the file keeps).
    shapes: HashMap<Box<[u8]>, Arc<Shape>, FastBuild>,
    /// The same shapes by the fingerprints of records met with them.
    prints: HashMap<u128, Arc<Shape>, FastBuild>,
    per_version: HashMap<String, usize>,
    /// The next number within each recent millisecond.
    slots: HashMap<u64, u32, FastBuild>,
    /// The running totals' watermark and what the rows above it add.
    totals: Pending,
    json: Vec<u8>,
    shape: Vec<u8>,
    scratch: codec::Scratch,
    values: Values,
    body: Vec<u8>,
}

impl Store {
    /// The state of an open log: its combinations and shapes.
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut store = Self {
            stored: Combo::load_all(conn)?,
            totals: Pending::load(conn)?,
            ..Self::default()
        };
        let mut stmt = conn.prepare("SELECT id, policy_version, template, defaults FROM shapes")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        for row in rows {
            let (id, version, template, defaults) = row?;
            // A shape whose defaults do not read is left out: records that
            // would match it get a new one.
            if let Some(defaults) = Values::decode_all(&defaults) {
                *store.per_version.entry(version).or_default() += 1;
                store
                    .shapes
                    .insert(template.into(), Arc::new(Shape { id, defaults }));
            }
        }
        Ok(store)
    }

    /// The statement [`Store::insert`] takes: prepared once per batch
    /// (looking it up in the connection's cache for every record cost ~2 %
    /// of the writer's instructions).
    pub(crate) fn prepare_insert(conn: &Connection) -> rusqlite::Result<CachedStatement<'_>> {
        conn.prepare_cached(
            "INSERT INTO decisions
                (id, request_id, caller_request_id, trace_id, combo, shape, latency_ms,
                 cost_nusd, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
    }

    /// Inserts one record with `insert` (from [`Store::prepare_insert`] on
    /// `conn`). Never replaces: a record whose request id is taken fails
    /// (and is counted) rather than erase the one there. The record is left
    /// with its ids and some values taken out.
    pub(crate) fn insert(
        &mut self,
        conn: &Connection,
        insert: &mut Statement<'_>,
        record: &mut DecisionRecord,
    ) -> Result<(), InsertError> {
        let id = self.next_id(conn, record.time_ms)?;
        let combo = self.combo(conn, record)?;
        let latency = i64::try_from(record.latency_ms).unwrap_or(i64::MAX);
        let cost = record.cost_usd.map(|c| (c * 1e9).round() as i64);
        if is_routine(record) {
            let caller = record.caller_request_id.take();
            let request_id = std::mem::take(&mut record.request_id);
            if let Some((shape, trace)) = self.encode(conn, record)? {
                let trace = trace.as_deref().map(Key::of);
                insert.execute(params![
                    id,
                    Key::of(&request_id),
                    caller,
                    trace,
                    combo,
                    shape,
                    latency,
                    cost,
                    self.body
                ])?;
                self.totals.add(id, combo, latency, cost);
                return Ok(());
            }
            // Past its version's shapes: kept whole, as it came.
            record.request_id = request_id;
            record.caller_request_id = caller;
        }
        self.json.clear();
        serde_json::to_writer(&mut self.json, &*record)?;
        insert.execute(params![
            id,
            Key::of(&record.request_id),
            record.caller_request_id,
            None::<&str>,
            combo,
            None::<i64>,
            latency,
            cost,
            JsonText(&self.json)
        ])?;
        self.totals.add(id, combo, latency, cost);
        Ok(())
    }

    /// Ends a batch before its commit: its late rows go into the running
    /// totals, and the pending ones `fold` takes (`totals.rs`).
    pub(crate) fn finish_batch(
        &mut self,
        conn: &Connection,
        fold: Option<Fold>,
    ) -> rusqlite::Result<()> {
        self.totals.finish_batch(conn, fold)
    }

    /// The running totals' pending state (`totals.rs`).
    pub(crate) fn totals(&self) -> &Pending {
        &self.totals
    }

    /// Starts a batch (in its transaction): the pending totals are read
    /// back when another connection changed the tail (`totals.rs`).
    pub(crate) fn begin_batch(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.totals.begin_batch(conn)
    }

    /// Forgets everything cached (after a batch rolled back, the rows it
    /// added to `combos`, `shapes` and the pending totals are gone) and
    /// reads it back.
    pub(crate) fn reload(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        *self = Self::load(conn)?;
        Ok(())
    }

    /// The record's id: its arrival millisecond and the next free number in it.
    fn next_id(&mut self, conn: &Connection, ms: u64) -> Result<i64, InsertError> {
        let first = first_id(ms);
        if first == i64::MAX || first.checked_add(1 << SEQ_BITS).is_none() {
            return Err(InsertError::Time(ms));
        }
        let next = match self.slots.get(&ms) {
            Some(&n) => n,
            None => {
                if self.slots.len() >= MAX_SLOTS {
                    self.slots.clear();
                }
                let last: Option<i64> = conn
                    .prepare_cached("SELECT max(id) FROM decisions WHERE id >= ?1 AND id < ?2")?
                    .query_row(params![first, first + (1 << SEQ_BITS)], |r| r.get(0))
                    .optional()?
                    .flatten();
                last.map_or(0, |id| u32::try_from(id - first + 1).unwrap_or(u32::MAX))
            }
        };
        if next >= 1 << SEQ_BITS {
            return Err(InsertError::Slot(ms));
        }
        self.slots.insert(ms, next + 1);
        Ok(first + i64::from(next))
    }

    /// The id of the record's combination, stored first if it is new.
    fn combo(&mut self, conn: &Connection, record: &DecisionRecord) -> rusqlite::Result<i64> {
        let view = ComboRef::of(record);
        let hash = view.hash64();
        let known = self.combos.entry(hash).or_default();
        if let Some((id, _)) = known.iter().find(|(_, c)| view.is(c)) {
            return Ok(*id);
        }
        if let Some(i) = self.stored.iter().position(|(_, c)| view.is(c)) {
            let (id, combo) = self.stored.swap_remove(i);
            known.push((id, combo));
            return Ok(id);
        }
        let combo = view.to_owned();
        let id = combo.insert(conn)?;
        known.push((id, combo));
        Ok(id)
    }

    /// Encodes a routine record against its shape into `self.body`,
    /// returning the shape's id and the trace id (which the shape leaves
    /// out). `None` (the record restored) when the policy version has all
    /// the shapes it may have and this one is new.
    fn encode(
        &mut self,
        conn: &Connection,
        record: &mut DecisionRecord,
    ) -> Result<Option<(i64, Option<String>)>, InsertError> {
        let trace = record.trace_id.take();
        let time_ms = std::mem::take(&mut record.time_ms);
        self.values.clear();
        for s in &mut record.signals {
            self.values.signals.push(std::mem::take(&mut s.value));
        }
        let print = codec::fingerprint(&*record, &mut self.scratch, &mut self.values.digits);
        if let Some(shape) = print.and_then(|p| self.prints.get(&p)) {
            self.values.encode_diff(&shape.defaults, &mut self.body);
            return Ok(Some((shape.id, trace)));
        }
        // A fingerprint not met yet: the shape's text finds it (or makes it).
        self.values.digits.clear();
        codec::split(&*record, &mut self.shape, &mut self.values.digits)?;
        if let Some(shape) = self.shapes.get(self.shape.as_slice()) {
            self.values.encode_diff(&shape.defaults, &mut self.body);
            let id = shape.id;
            if let Some(p) = print {
                self.prints.insert(p, Arc::clone(shape));
            }
            return Ok(Some((id, trace)));
        }
        let count = self
            .per_version
            .entry(record.policy_version.clone())
            .or_default();
        if *count >= MAX_SHAPES_PER_VERSION {
            record.trace_id = trace;
            record.time_ms = time_ms;
            for (s, v) in record.signals.iter_mut().zip(self.values.signals.drain(..)) {
                s.value = v;
            }
            return Ok(None);
        }
        *count += 1;
        // The first record of a shape gives its defaults: it differs in nothing.
        self.values.encode_all(&mut self.body);
        conn.prepare_cached(
            "INSERT INTO shapes (policy_version, template, defaults) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![record.policy_version, self.shape, self.body])?;
        let id = conn.last_insert_rowid();
        let defaults = self.values.clone();
        self.values.encode_diff(&defaults, &mut self.body);
        let shape = Arc::new(Shape { id, defaults });
        if let Some(p) = print {
            self.prints.insert(p, Arc::clone(&shape));
        }
        self.shapes.insert(self.shape.as_slice().into(), shape);
        Ok(Some((id, trace)))
    }
}

/// A record's JSON, bound as TEXT without checking it again: serde_json
/// writes UTF-8 only (the check cost ~1 % of the writer's time).
struct JsonText<'a>(&'a [u8]);

impl rusqlite::ToSql for JsonText<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(self.0),
        ))
    }
}

/// A record served by its first-ranked route at the first attempt, with no
/// skip, route ranked lower, degradation, operator action, error, early
/// stop or logged content: the common case, stored against a shape.
pub(crate) fn is_routine(r: &DecisionRecord) -> bool {
    r.outcome == "served"
        && r.attempts.len() == 1
        && r.chosen.is_some()
        && r.ranking.first() == r.chosen.as_ref()
        && r.skipped.is_empty()
        && r.reordered.is_none()
        && r.degraded.is_empty()
        && r.operator_actions.is_empty()
        && r.error.is_none()
        && r.stopped.is_none()
        && r.content.is_none()
}
