//! Owns translation notes: the record of every field a translation could
//! not pass through unchanged (the decision record's `translation`).

use std::fmt;

/// What happened to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteAction {
    /// Not sent: the target has no equivalent.
    Dropped,
    /// Sent in another form with the same intent.
    Translated,
    /// Sent as the client wrote it, to a provider API of the client's own
    /// format (a Responses request to a route serving `/v1/responses`).
    PassedThrough,
}

/// One field an adapter dropped or translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationNote {
    /// Path of the canonical field, e.g. `sampling.seed` or `extra.logprobs`.
    pub field: String,
    /// What was done with it.
    pub action: NoteAction,
    /// Why, for the decision record.
    pub reason: String,
}

impl NoteAction {
    /// `dropped`, `translated` or `passthrough`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dropped => "dropped",
            Self::Translated => "translated",
            Self::PassedThrough => "passthrough",
        }
    }
}

impl fmt::Display for TranslationNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.field,
            self.action.as_str(),
            self.reason
        )
    }
}
