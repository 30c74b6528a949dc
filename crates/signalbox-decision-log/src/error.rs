//! The decision log's errors.

use std::path::PathBuf;

/// Why a decision-log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The database file could not be opened or prepared.
    #[error("cannot open decision log `{}`: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file to read does not exist.
    #[error("decision log `{}` does not exist", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The file is not a decision log this build can read (version 0: not a
    /// decision log at all; above `supported`: written by a newer Signalbox).
    #[error(
        "`{}` is not a decision log this build can read (schema version {found}, expected 1..={supported})",
        path.display()
    )]
    UnsupportedSchema {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A file in the JSON layout of an older build (schema 1 or 2) could
    /// not be converted to the current one; nothing was changed.
    #[error(
        "cannot convert decision log `{}` from schema {found} to schema 4: {reason}; \
         the file is unchanged: move it aside (a build of before schema 3 still reads it) \
         and start the gateway again to create a new log",
        path.display()
    )]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// What failed.
        reason: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the decision log writer: {0}")]
    Spawn(#[source] std::io::Error),
    /// A query failed.
    #[error("decision log query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record could not be decoded.
    #[error("decision log record is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored row could not be read back (damaged, or its shape is gone).
    #[error("decision log row is damaged: {0}")]
    Damaged(String),
    /// The file is in the JSON layout of schema 1 or 2: lookups and
    /// listings read it as it is, aggregates need the current layout.
    #[error(
        "decision log `{}` is in the layout of schema {found}: lookups and listings work, aggregates need schema 3 or later; start the gateway on it once to convert it",
        path.display()
    )]
    Legacy {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// The blocking task running the query was cancelled (runtime shutting down).
    #[error("decision log is closed")]
    Closed,
}

impl LogError {
    /// A stable, low-cardinality label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::NotFound { .. } => "not_found",
            Self::Spawn(_) => "spawn",
            Self::UnsupportedSchema { .. } => "unsupported_schema",
            Self::Migrate { .. } => "migrate",
            Self::Sqlite(_) => "sqlite",
            Self::Json(_) => "json",
            Self::Damaged(_) => "damaged",
            Self::Legacy { .. } => "legacy",
            Self::Closed => "closed",
        }
    }
}
