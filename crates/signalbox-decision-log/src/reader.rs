//! The read side: lookups by request id and filtered listings, each on its
//! own read-only connection, so a reader needs no writer and never blocks one.
//! Files still in the JSON layout of schemas 1–2 are read by `legacy.rs`.

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;
use signalbox_core::DecisionRecord;

use crate::{LogError, schema};

pub(crate) mod aggregate;
#[cfg(test)]
mod aggregate_tests;
mod facet;
mod legacy;
pub(crate) mod rows;
pub(crate) mod stats;
#[cfg(test)]
mod tests;

pub use aggregate::{Group, GroupBy};
pub use facet::Facet;

/// The default number of records a query returns.
pub const DEFAULT_LIMIT: usize = 100;
/// The most records one query returns.
pub const MAX_LIMIT: usize = 1000;

/// Filters for listing decisions; every filter that is set must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Only the request with this id: the gateway's (`request_id`) or the
    /// caller's `x-request-id` (which several requests may share).
    pub request_id: Option<String>,
    /// Only this tenant's requests.
    pub tenant: Option<String>,
    /// Only requests filed under this route (served by it, or last tried).
    pub route: Option<String>,
    /// Only this outcome (`served`, `refused`, `rejected`, `failed`).
    pub outcome: Option<String>,
    /// Only requests that arrived at or after this time (ms since the epoch).
    pub since_ms: Option<u64>,
    /// Only requests that arrived before this time (ms since the epoch).
    pub until_ms: Option<u64>,
    /// Only requests carrying every one of these shared identifiers.
    pub facets: Vec<Facet>,
    /// How many records at most; clamped to `1..=1000`.
    pub limit: usize,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            request_id: None,
            tenant: None,
            route: None,
            outcome: None,
            since_ms: None,
            until_ms: None,
            facets: Vec::new(),
            limit: DEFAULT_LIMIT,
        }
    }
}

impl Query {
    /// The limit actually applied.
    pub fn effective_limit(&self) -> usize {
        self.limit.clamp(1, MAX_LIMIT)
    }
}

/// Reads decision records from a log file. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct LogReader {
    path: Arc<Path>,
}

impl LogReader {
    /// Opens an existing log for reading. Fails with
    /// [`LogError::NotFound`] if the file does not exist and
    /// [`LogError::UnsupportedSchema`] if it is not a log this build reads.
    pub fn open(path: &Path) -> Result<Self, LogError> {
        if !path.exists() {
            return Err(LogError::NotFound {
                path: path.to_owned(),
            });
        }
        let conn = schema::open_reader(path)?;
        let found = schema::user_version(&conn).map_err(|source| LogError::Open {
            path: path.to_owned(),
            source,
        })?;
        if !(1..=schema::SCHEMA_VERSION).contains(&found) {
            return Err(LogError::UnsupportedSchema {
                path: path.to_owned(),
                found,
                supported: schema::SCHEMA_VERSION,
            });
        }
        Ok(Self { path: path.into() })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record of one request by the gateway's id (`request_id`,
    /// `x-signalbox-request-id`), if it is in the log.
    pub fn get(&self, request_id: &str) -> Result<Option<DecisionRecord>, LogError> {
        let (conn, version) = self.connect_versioned()?;
        if version < schema::COMPACT_VERSION {
            let mut found = legacy::find(&conn, schema::CALLER_ID_VERSION - 1, request_id, None)?;
            return Ok(found.pop());
        }
        let mut decoder = rows::Decoder::default();
        rows::by_key(&conn, request_id)?
            .into_iter()
            .next()
            .map(|row| decoder.decode(&conn, row))
            .transpose()
    }

    /// The records `id` names, newest first, optionally only `tenant`'s: the
    /// one whose gateway id it is, else every one whose caller sent it as
    /// `x-request-id` (any number, from any tenant; at most [`MAX_LIMIT`]).
    /// The gateway's id wins, so a caller cannot shadow another request's
    /// record by sending its id.
    pub fn find(&self, id: &str, tenant: Option<&str>) -> Result<Vec<DecisionRecord>, LogError> {
        let (conn, version) = self.connect_versioned()?;
        if version < schema::COMPACT_VERSION {
            return legacy::find(&conn, version, id, tenant);
        }
        let sel = rows::Selection::of(
            &conn,
            &Query {
                tenant: tenant.map(str::to_owned),
                ..Query::default()
            },
        )?;
        let mut found: Vec<_> = rows::by_key(&conn, id)?
            .into_iter()
            .filter(|r| sel.holds(r))
            .collect();
        if found.is_empty() {
            found = rows::by_caller(&conn, id)?
                .into_iter()
                .filter(|r| sel.holds(r))
                .collect();
        }
        found.sort_by(rows::Row::newest_first);
        decode_all(&conn, found)
    }

    /// Records matching `q`, newest first.
    pub fn query(&self, q: &Query) -> Result<Vec<DecisionRecord>, LogError> {
        let (conn, version) = self.connect_versioned()?;
        if version < schema::COMPACT_VERSION {
            return legacy::query(&conn, version, q);
        }
        let rows = self.select(&conn, q, q.effective_limit())?;
        decode_all(&conn, rows)
    }

    /// The newest `limit` rows `q` selects: by id when it names one, else
    /// by the selection's plan.
    fn select(
        &self,
        conn: &Connection,
        q: &Query,
        limit: usize,
    ) -> Result<Vec<rows::Row>, LogError> {
        let sel = rows::Selection::of(conn, q)?;
        let Some(id) = &q.request_id else {
            return rows::newest(conn, &sel, limit);
        };
        let mut found = rows::by_key(conn, id)?;
        let seen: Vec<i64> = found.iter().map(|r| r.id).collect();
        found.extend(
            rows::by_caller(conn, id)?
                .into_iter()
                .filter(|r| !seen.contains(&r.id)),
        );
        found.retain(|r| sel.holds(r));
        found.sort_by(rows::Row::newest_first);
        found.truncate(limit);
        Ok(found)
    }

    /// [`LogReader::get`] on a blocking thread, for async handlers.
    pub async fn get_async(&self, request_id: String) -> Result<Option<DecisionRecord>, LogError> {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.get(&request_id))
            .await
            .map_err(|_| LogError::Closed)?
    }

    /// [`LogReader::find`] on a blocking thread, for async handlers.
    pub async fn find_async(
        &self,
        id: String,
        tenant: Option<String>,
    ) -> Result<Vec<DecisionRecord>, LogError> {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.find(&id, tenant.as_deref()))
            .await
            .map_err(|_| LogError::Closed)?
    }

    /// [`LogReader::query`] on a blocking thread, for async handlers.
    pub async fn query_async(&self, q: Query) -> Result<Vec<DecisionRecord>, LogError> {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.query(&q))
            .await
            .map_err(|_| LogError::Closed)?
    }

    /// The window `[since_ms, until_ms)` summarised (only `alias`'s
    /// requests when given).
    pub fn summary(
        &self,
        since_ms: u64,
        until_ms: u64,
        alias: Option<&str>,
    ) -> Result<crate::WindowSummary, LogError> {
        crate::window::summarize(
            &self.path,
            &self.connect_current()?,
            since_ms,
            until_ms,
            alias,
        )
    }

    /// The summary of the configuration `version`, when the gateway kept it.
    pub fn config_summary(&self, version: &str) -> Result<Option<String>, LogError> {
        crate::versions::summary(&self.connect()?, version)
    }

    /// The newest `limit` admin audit entries, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<crate::AuditEntry>, LogError> {
        crate::audit::read(&self.connect()?, limit.clamp(1, MAX_LIMIT))
    }

    /// [`LogReader::audit`] on a blocking thread.
    pub async fn audit_async(&self, limit: usize) -> Result<Vec<crate::AuditEntry>, LogError> {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.audit(limit))
            .await
            .map_err(|_| LogError::Closed)?
    }

    pub(crate) fn connect(&self) -> Result<Connection, LogError> {
        schema::open_reader(&self.path)
    }

    /// A connection and the file's schema version (a writer may convert
    /// the file while this reader lives).
    fn connect_versioned(&self) -> Result<(Connection, i64), LogError> {
        let conn = self.connect()?;
        let version = schema::user_version(&conn)?;
        Ok((conn, version))
    }

    /// A connection to a file in the current layout, for aggregates.
    fn connect_current(&self) -> Result<Connection, LogError> {
        let (conn, found) = self.connect_versioned()?;
        if found < schema::COMPACT_VERSION {
            return Err(LogError::Legacy {
                path: self.path.to_path_buf(),
                found,
            });
        }
        Ok(conn)
    }
}

/// Decodes rows, reading each shape once.
fn decode_all(conn: &Connection, rows: Vec<rows::Row>) -> Result<Vec<DecisionRecord>, LogError> {
    let mut decoder = rows::Decoder::default();
    rows.into_iter()
        .map(|row| decoder.decode(conn, row))
        .collect()
}
