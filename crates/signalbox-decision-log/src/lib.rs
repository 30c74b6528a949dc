//! Owns the embedded decision log: every request's
//! [`DecisionRecord`](signalbox_core::DecisionRecord) is written to SQLite by
//! one background writer thread, off the request path, and read back by the
//! admin endpoints and `signalbox explain`. See `docs/decision-log.md`.
//!
//! Storage (schema 4): a routine record is a row of ids and numbers plus its
//! values against a shape kept once per policy version (`codec.rs`,
//! `store.rs`); any other record keeps its whole JSON. The identifiers the
//! filters ask by are one combination id per row (`combo.rs`); a row's id
//! is its arrival time. Files of the JSON layout are read as they are
//! (`reader/legacy.rs`) and converted by the first writer (`migrate.rs`).
//!
//! - [`DecisionLog`] is the cheap, cloneable write handle: `record` never
//!   blocks (a full queue drops and counts), `flush` waits for a commit.
//! - [`LogReader`] opens its own read-only connections, with or without a
//!   writer in the same process.
//! - [`explain`] renders one record for operators, "why" line first.
//! - [`WindowSummary`]: one time window summarised (versions seen, metrics,
//!   operator actions), what `signalbox what-changed` compares.
//! - the configurations run, by policy version (`versions.rs`), and
//!   [`config_diff`] between two of them.
//! - [`LogReader::what_changed`]: two windows compared, the differences
//!   ranked ([`Change`]), for the CLI and the admin API alike (`changes.rs`).
//! - the configuration texts run, by policy version (`config_text.rs`),
//!   and [`unified_diff`] between two of them.
//! - [`AuditEntry`]: the admin calls (who, when, what, why), in a table
//!   beside the decisions, written at once (`audit.rs`).
//! - [`ScoreRun`]: the scheduled quality runs' scores, in a table beside
//!   the decisions, written at once per run and read back at start
//!   (`quality_scores.rs`).

mod audit;
mod changes;
mod codec;
mod combo;
mod config_text;
mod error;
mod explain;
mod key;
mod migrate;
mod quality_scores;
mod reader;
mod schema;
mod store;
#[cfg(test)]
mod test_support;
mod totals;
mod versions;
mod window;
mod writer;

pub use audit::{AuditEntry, SYSTEM_ROLE};
pub use changes::{Change, ChangeKind, Report, Span, SpanError, Traffic, compare};
pub use config_text::{MAX_TEXT_BYTES, unified_diff};
pub use error::LogError;
pub use explain::{explain, one_line};
pub use quality_scores::ScoreRun;
pub use reader::{Facet, Group, GroupBy, LogReader, Query};
pub use versions::diff as config_diff;
pub use window::WindowSummary;
pub use writer::{DecisionLog, LogOptions, LogStats, WriterPriority};
