//! Owns the admin audit trail: one row per admin API call (who, with which
//! role, when, what, why, and how it ended), in the table `admin_audit`
//! beside the decisions. Admin calls are rare, so each entry is written at
//! once on a blocking thread with its own connection (not through the
//! decision queue, which drops under load: an audit entry must not be
//! dropped). The table is created when first written, so files of older
//! builds stay readable and the decisions' schema version is unchanged.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::{LogError, schema};

/// The role of the gateway's own events in the audit trail (quality
/// transitions, canary steps), which `what-changed` lists beside the
/// operators' actions.
pub const SYSTEM_ROLE: &str = "system";

/// One admin API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (ms since the Unix epoch).
    pub time_ms: u64,
    /// The admin token's name (`-` when no valid token was presented).
    pub who: String,
    /// Its role (`-` when none).
    pub role: String,
    /// `GET`, `POST`, `DELETE`.
    pub method: String,
    /// The path called.
    pub path: String,
    /// The operator action created or reverted, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Why (required for actions and reverts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// What was done or refused, in words.
    pub detail: String,
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS admin_audit (
    time_ms INTEGER NOT NULL,
    who     TEXT NOT NULL,
    entry   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_audit_time ON admin_audit (time_ms);";

/// Appends `entry` to the audit table of the log at `path`.
pub(crate) async fn append(path: PathBuf, entry: AuditEntry) -> Result<(), LogError> {
    tokio::task::spawn_blocking(move || write(&path, &entry))
        .await
        .map_err(|_| LogError::Closed)?
}

fn write(path: &Path, entry: &AuditEntry) -> Result<(), LogError> {
    let conn = schema::open_side(path, CREATE)?;
    conn.execute(
        "INSERT INTO admin_audit (time_ms, who, entry) VALUES (?1, ?2, ?3)",
        params![
            schema::to_sql_ms(entry.time_ms),
            entry.who,
            serde_json::to_string(entry)?
        ],
    )?;
    Ok(())
}

/// Deletes the entries older than `cutoff_ms` (the decisions' retention
/// applies to the audit trail too); none when nothing was audited.
pub(crate) fn purge(conn: &Connection, cutoff_ms: u64) -> rusqlite::Result<usize> {
    if !schema::table_exists(conn, "admin_audit")? {
        return Ok(0);
    }
    conn.execute(
        "DELETE FROM admin_audit WHERE time_ms < ?1",
        params![schema::to_sql_ms(cutoff_ms)],
    )
}

/// The newest `limit` entries, newest first (none when nothing was audited).
pub(crate) fn read(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>, LogError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    entries(
        conn,
        "SELECT entry FROM admin_audit ORDER BY time_ms DESC, rowid DESC LIMIT ?1",
        params![limit],
    )
}

/// The entries of `[since_ms, until_ms)`, oldest first.
pub(crate) fn read_between(
    conn: &Connection,
    since_ms: u64,
    until_ms: u64,
) -> Result<Vec<AuditEntry>, LogError> {
    entries(
        conn,
        "SELECT entry FROM admin_audit WHERE time_ms >= ?1 AND time_ms < ?2 ORDER BY time_ms, rowid",
        params![schema::to_sql_ms(since_ms), schema::to_sql_ms(until_ms)],
    )
}

fn entries(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<AuditEntry>, LogError> {
    if !schema::has_table(conn, "admin_audit")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(args, |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(serde_json::from_str(&json?)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecisionLog, LogOptions, LogReader};

    #[tokio::test]
    async fn entries_are_kept_beside_the_decisions_and_read_newest_first() {
        let db = crate::test_support::TempDb::new("audit");
        let options = LogOptions {
            queue: 8,
            retention: std::time::Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        };
        let log = DecisionLog::open(db.path(), options).unwrap();
        let reader = LogReader::open(db.path()).unwrap();
        assert!(reader.audit(10).unwrap().is_empty(), "nothing audited yet");
        let entry = |t: u64, what: &str| AuditEntry {
            time_ms: t,
            who: "oncall".into(),
            role: "operator".into(),
            method: "POST".into(),
            path: "/admin/actions".into(),
            action: Some("act-1".into()),
            reason: Some("provider incident".into()),
            status: 201,
            detail: what.into(),
        };
        log.audit(entry(1, "created")).await.unwrap();
        log.audit(entry(2, "reverted")).await.unwrap();
        let got = reader.audit(10).unwrap();
        assert_eq!(got, [entry(2, "reverted"), entry(1, "created")]);
        assert_eq!(reader.audit(1).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_retention_removes_old_audit_entries_too() {
        let db = crate::test_support::TempDb::new("audit-retention");
        let log = DecisionLog::open(
            db.path(),
            LogOptions {
                queue: 8,
                retention: std::time::Duration::ZERO,
                max_bytes: 0,
                priority: Default::default(),
            },
        )
        .unwrap();
        let now = signalbox_core::clock::unix_ms();
        let entry = |t: u64| AuditEntry {
            time_ms: t,
            who: "oncall".into(),
            role: "operator".into(),
            method: "DELETE".into(),
            path: "/admin/actions/a".into(),
            action: None,
            reason: Some("done".into()),
            status: 200,
            detail: "reverted".into(),
        };
        log.audit(entry(now - 3 * 86_400_000)).await.unwrap();
        log.audit(entry(now)).await.unwrap();
        let conn = schema::open_side(db.path(), CREATE).unwrap();
        let week = std::time::Duration::from_secs(7 * 86_400);
        schema::purge(&conn, week).unwrap();
        assert_eq!(read(&conn, 10).unwrap().len(), 2, "both inside a week");
        schema::purge(&conn, std::time::Duration::from_secs(86_400)).unwrap();
        assert_eq!(
            read(&conn, 10).unwrap(),
            [entry(now)],
            "the 3-day-old one went"
        );
    }
}
