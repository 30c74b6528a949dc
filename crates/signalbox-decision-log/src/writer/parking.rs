//! Test hooks: open the log with no writer running, then start it on demand.

use std::path::Path;

use super::{DecisionLog, LogOptions, Writer};
use crate::LogError;

/// A writer that has not started yet; while it lives the queue stays
/// connected but nothing drains it.
pub(crate) struct ParkedWriter(Writer);

impl ParkedWriter {
    /// Starts the writer thread on the queue as it is.
    pub(crate) fn start(self) -> Result<(), LogError> {
        self.0.spawn()
    }
}

impl DecisionLog {
    /// Opens the log with its writer parked: records queue up (and drop
    /// once the queue is full) until `start` is called.
    pub(crate) fn open_paused(
        path: &Path,
        options: LogOptions,
    ) -> Result<(Self, ParkedWriter), LogError> {
        let (log, writer) = Self::open_parked(path, options)?;
        Ok((log, ParkedWriter(writer)))
    }
}
