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
    /// The writer thread could not be started.
    #[error("cannot start the decision log writer: {0}")]
    Spawn(#[source] std::io::Error),
    /// A query failed.
    #[error("decision log query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record could not be decoded.
    #[error("decision log record is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
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
            Self::Sqlite(_) => "sqlite",
            Self::Json(_) => "json",
            Self::Closed => "closed",
        }
    }
}
