//! Owns the configuration texts the gateway has run, by policy version: the
//! file as written (and its includes), before `${VAR}` interpolation, so a
//! value taken from the environment is kept only as its reference and a
//! credential only as `{env: …}` / `{file: …}`. Kept in the table
//! `config_texts` beside the decisions (created when first written, so the
//! decisions' schema is unchanged), written at start and after each reload
//! (a version loaded again refreshes its time), and purged with the
//! decisions' retention, except the newest, which may still be serving.
//! [`unified_diff`] is what `what-changed` shows between two versions.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::{DecisionLog, LogError, LogReader, schema};

mod diff;

pub use diff::unified_diff;

/// The longest text kept (a larger one is cut, and says so).
pub const MAX_TEXT_BYTES: usize = 1 << 20;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS config_texts (
    version TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    text    TEXT NOT NULL
);";

impl DecisionLog {
    /// Keeps the configuration `text` of policy `version` (its time
    /// refreshed when already kept). Written at once on a blocking thread,
    /// with its own connection (not through the decision queue).
    pub async fn config_text(&self, version: &str, text: &str) -> Result<(), LogError> {
        let (path, version, text) = (self.path().to_owned(), version.to_owned(), cut(text));
        tokio::task::spawn_blocking(move || store(&path, &version, &text))
            .await
            .map_err(|_| LogError::Closed)?
    }

    /// [`DecisionLog::config_text`] for synchronous start-up code.
    pub fn config_text_now(&self, version: &str, text: &str) -> Result<(), LogError> {
        store(self.path(), version, &cut(text))
    }
}

impl LogReader {
    /// The configuration text of `version`, when the gateway kept it.
    pub fn config_text(&self, version: &str) -> Result<Option<String>, LogError> {
        read(&Connection::open(self.path())?, version)
    }

    /// [`LogReader::config_text`] on a blocking thread.
    pub async fn config_text_async(&self, version: String) -> Result<Option<String>, LogError> {
        let path: PathBuf = self.path().to_owned();
        tokio::task::spawn_blocking(move || read(&Connection::open(path)?, &version))
            .await
            .map_err(|_| LogError::Closed)?
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n# (cut: the text is over {MAX_TEXT_BYTES} bytes)\n",
        &text[..end]
    )
}

fn store(path: &Path, version: &str, text: &str) -> Result<(), LogError> {
    let conn = schema::open_side(path, CREATE)?;
    conn.execute(
        "INSERT INTO config_texts (version, time_ms, text) VALUES (?1, ?2, ?3)
         ON CONFLICT(version) DO UPDATE SET time_ms = excluded.time_ms",
        params![
            version,
            schema::to_sql_ms(signalbox_core::clock::unix_ms()),
            text
        ],
    )?;
    Ok(())
}

fn read(conn: &Connection, version: &str) -> Result<Option<String>, LogError> {
    if !schema::has_table(conn, "config_texts")? {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT text FROM config_texts WHERE version = ?1",
            params![version],
            |row| row.get(0),
        )
        .optional()?)
}

/// Deletes the texts last loaded before `cutoff_ms`, but never the newest.
pub(crate) fn purge(conn: &Connection, cutoff_ms: u64) -> rusqlite::Result<usize> {
    if !schema::table_exists(conn, "config_texts")? {
        return Ok(0);
    }
    conn.execute(
        "DELETE FROM config_texts WHERE time_ms < ?1
         AND version <> (SELECT version FROM config_texts ORDER BY time_ms DESC, rowid DESC LIMIT 1)",
        params![schema::to_sql_ms(cutoff_ms)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDb;

    #[tokio::test]
    async fn texts_are_kept_by_version_and_the_newest_survives_the_retention() {
        let db = TempDb::new("config-texts");
        let log = db.log();
        let reader = log.reader().unwrap();
        assert_eq!(reader.config_text("v1").unwrap(), None, "nothing kept yet");
        log.config_text("v1", "routes: []\n").await.unwrap();
        log.config_text("v2", "routes: [a]\n").await.unwrap();
        assert_eq!(
            reader.config_text("v1").unwrap().as_deref(),
            Some("routes: []\n")
        );
        let conn = schema::open_side(db.path(), CREATE).unwrap();
        let later = signalbox_core::clock::unix_ms() + 1_000;
        assert_eq!(
            purge(&conn, later).unwrap(),
            1,
            "all old, but the newest stays"
        );
        assert_eq!(reader.config_text("v1").unwrap(), None);
        assert_eq!(
            reader.config_text("v2").unwrap().as_deref(),
            Some("routes: [a]\n")
        );
        let big = "x".repeat(MAX_TEXT_BYTES + 10);
        log.config_text_now("v3", &big).unwrap();
        assert!(
            reader
                .config_text("v3")
                .unwrap()
                .unwrap()
                .ends_with("bytes)\n")
        );
    }
}
