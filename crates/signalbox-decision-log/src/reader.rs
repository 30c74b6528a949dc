//! The read side: lookups by request id and filtered listings, each on its
//! own read-only connection, so a reader needs no writer and never blocks one.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use signalbox_core::DecisionRecord;

use crate::{LogError, schema};

mod aggregate;
mod facet;
#[cfg(test)]
mod tests;

pub(crate) use aggregate::percentile;
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
        let conn = self.connect()?;
        let json: Option<String> = conn
            .query_row(
                "SELECT record FROM decisions WHERE request_id = ?1",
                params![request_id],
                |row| row.get(0),
            )
            .optional()?;
        json.map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(LogError::from)
    }

    /// The records `id` names, newest first, optionally only `tenant`'s: the
    /// one whose gateway id it is, else every one whose caller sent it as
    /// `x-request-id` (any number, from any tenant; at most [`MAX_LIMIT`]).
    /// The gateway's id wins, so a caller cannot shadow another request's
    /// record by sending its id.
    pub fn find(&self, id: &str, tenant: Option<&str>) -> Result<Vec<DecisionRecord>, LogError> {
        let conn = self.connect()?;
        let tenant_clause = if tenant.is_some() {
            " AND tenant = ?2"
        } else {
            ""
        };
        let by_key = format!("SELECT record FROM decisions WHERE request_id = ?1{tenant_clause}");
        let found = records(&conn, &by_key, id, tenant)?;
        if !found.is_empty() || !has_caller_ids(&conn)? {
            return Ok(found);
        }
        let by_caller = format!(
            "SELECT record FROM decisions WHERE caller_request_id = ?1{tenant_clause}
             ORDER BY time_ms DESC, request_id DESC LIMIT {MAX_LIMIT}"
        );
        records(&conn, &by_caller, id, tenant)
    }

    /// Records matching `q`, newest first.
    pub fn query(&self, q: &Query) -> Result<Vec<DecisionRecord>, LogError> {
        let conn = self.connect()?;
        let (where_, mut values) = filter(&conn, q)?;
        let mut sql = format!("SELECT record FROM decisions{where_}");
        values.push(Value::Integer(
            i64::try_from(q.effective_limit()).unwrap_or(i64::MAX),
        ));
        sql.push_str(&format!(
            " ORDER BY time_ms DESC, request_id DESC LIMIT ?{}",
            values.len()
        ));

        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(0))?;
        let mut records = Vec::new();
        for json in rows {
            records.push(serde_json::from_str(&json?)?);
        }
        Ok(records)
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
        crate::window::summarize(&self.connect()?, since_ms, until_ms, alias)
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

    fn connect(&self) -> Result<Connection, LogError> {
        schema::open_reader(&self.path)
    }
}

/// The `WHERE` clause (empty, or starting with a space) and its bound
/// values for every filter of `q` but the limit.
fn filter(conn: &Connection, q: &Query) -> Result<(String, Vec<Value>), LogError> {
    let Query {
        request_id,
        tenant,
        route,
        outcome,
        since_ms,
        until_ms,
        facets,
        limit: _,
    } = q;
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if let Some(id) = request_id {
        let caller = if has_caller_ids(conn)? {
            "caller_request_id"
        } else {
            "NULL"
        };
        values.push(Value::Text(id.clone()));
        let n = values.len();
        clauses.push(format!("(request_id = ?{n} OR {caller} = ?{n})"));
    }
    let mut column = |column: &str, op: &str, value: Value| {
        values.push(value);
        clauses.push(format!("{column} {op} ?{}", values.len()));
    };
    if let Some(tenant) = tenant {
        column("tenant", "=", Value::Text(tenant.clone()));
    }
    if let Some(route) = route {
        column("route", "=", Value::Text(route.clone()));
    }
    if let Some(outcome) = outcome {
        column("outcome", "=", Value::Text(outcome.clone()));
    }
    if let Some(since) = since_ms {
        column("time_ms", ">=", Value::Integer(schema::to_sql_ms(*since)));
    }
    if let Some(until) = until_ms {
        column("time_ms", "<", Value::Integer(schema::to_sql_ms(*until)));
    }
    for facet in facets {
        values.push(facet.value());
        clauses.push(facet.condition(values.len()));
    }
    if clauses.is_empty() {
        return Ok((String::new(), values));
    }
    Ok((format!(" WHERE {}", clauses.join(" AND ")), values))
}

/// Whether the file has the caller-id column: a file a writer has not yet
/// migrated to schema 2 (readers never migrate) has no caller ids.
fn has_caller_ids(conn: &Connection) -> Result<bool, LogError> {
    Ok(schema::user_version(conn)? >= schema::CALLER_ID_VERSION)
}

/// Runs `sql` with `?1 = id` and, when given, `?2 = tenant`.
fn records(
    conn: &Connection,
    sql: &str,
    id: &str,
    tenant: Option<&str>,
) -> Result<Vec<DecisionRecord>, LogError> {
    let mut stmt = conn.prepare(sql)?;
    let values = std::iter::once(id).chain(tenant);
    let rows = stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(serde_json::from_str(&json?)?);
    }
    Ok(out)
}
