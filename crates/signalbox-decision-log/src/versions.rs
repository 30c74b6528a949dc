//! Owns the configurations the gateway has run, by policy version: each
//! loaded configuration's summary (what `signalbox check` prints: routes,
//! models, regions, aliases, counts; never a key or a hash), kept in the
//! table `config_versions` beside the decisions when it is first loaded,
//! so `what-changed` can say what a new policy version changed. Written
//! once per version (at start and after each reload), read on demand.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{LogError, schema};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS config_versions (
    version TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    summary TEXT NOT NULL
);";

/// Keeps `summary` for `version`, unless the version is already kept.
pub(crate) fn store(
    path: &Path,
    version: &str,
    time_ms: u64,
    summary: &str,
) -> Result<(), LogError> {
    let conn = schema::open_side(path, CREATE)?;
    conn.execute(
        "INSERT OR IGNORE INTO config_versions (version, time_ms, summary) VALUES (?1, ?2, ?3)",
        params![version, schema::to_sql_ms(time_ms), summary],
    )?;
    Ok(())
}

/// The summary kept for `version`, if any.
pub(crate) fn summary(conn: &Connection, version: &str) -> Result<Option<String>, LogError> {
    if !schema::has_table(conn, "config_versions")? {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT summary FROM config_versions WHERE version = ?1",
            params![version],
            |row| row.get(0),
        )
        .optional()?)
}

/// The lines of `new` not in `old` (`+ …`) and of `old` not in `new`
/// (`- …`), the first line (the origin and version) left out.
pub fn diff(old: &str, new: &str) -> Vec<String> {
    let body = |s: &str| s.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    let (old, new) = (body(old), body(new));
    let mut out: Vec<String> = new
        .iter()
        .filter(|l| !old.contains(l))
        .map(|l| format!("+ {}", l.trim_start()))
        .collect();
    out.extend(
        old.iter()
            .filter(|l| !new.contains(l))
            .map(|l| format!("- {}", l.trim_start())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDb;
    use crate::{DecisionLog, LogOptions};

    #[tokio::test]
    async fn a_version_is_kept_once_and_diffs_by_line() {
        let db = TempDb::new("versions");
        let options = LogOptions {
            queue: 8,
            retention: std::time::Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        };
        let log = DecisionLog::open(db.path(), options).unwrap();
        let reader = log.reader().unwrap();
        assert_eq!(reader.config_summary("v1").unwrap(), None);
        let v1 = "a.yaml: OK (policy version v1)\n  2 routes\n  alias chat -> us (p/m-1, us)\n";
        let v2 = "a.yaml: OK (policy version v2)\n  2 routes\n  alias chat -> us (p/m-2, us)\n";
        log.config_version("v1", v1).await.unwrap();
        log.config_version("v1", "ignored").await.unwrap();
        log.config_version("v2", v2).await.unwrap();
        assert_eq!(reader.config_summary("v1").unwrap().as_deref(), Some(v1));
        assert_eq!(
            diff(v1, v2),
            [
                "+ alias chat -> us (p/m-2, us)",
                "- alias chat -> us (p/m-1, us)"
            ]
        );
    }
}
