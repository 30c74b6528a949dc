//! Owns translation notes: the record of every field an adapter could not
//! pass through unchanged.

use std::fmt;

/// What happened to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteAction {
    /// Not sent: the target has no equivalent.
    Dropped,
    /// Sent in another form with the same intent.
    Translated,
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

impl fmt::Display for TranslationNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            NoteAction::Dropped => "dropped",
            NoteAction::Translated => "translated",
        };
        write!(f, "{} {action}: {}", self.field, self.reason)
    }
}

/// Collects notes while an adapter renders a request.
#[derive(Debug, Default)]
pub(crate) struct Notes(pub(crate) Vec<TranslationNote>);

impl Notes {
    pub(crate) fn dropped(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(field.into(), NoteAction::Dropped, reason.into());
    }

    pub(crate) fn translated(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(field.into(), NoteAction::Translated, reason.into());
    }

    fn push(&mut self, field: String, action: NoteAction, reason: String) {
        self.0.push(TranslationNote {
            field,
            action,
            reason,
        });
    }
}
