//! Owns what protecting and restoring report: counts per class and action,
//! never values, so reports may go to decision records, logs and metrics.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Action;

/// How often each action was taken on one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ActionCounts {
    /// Replaced by a placeholder.
    pub redacted: u32,
    /// Replaced by a reversible token.
    pub tokenised: u32,
    /// Caused the request to be refused.
    pub blocked: u32,
    /// Left in place (`allow`).
    pub allowed: u32,
}

impl ActionCounts {
    /// Findings of this class, whatever the action.
    #[must_use]
    pub const fn total(&self) -> u32 {
        self.redacted + self.tokenised + self.blocked + self.allowed
    }

    pub(crate) const fn add(&mut self, action: Action) {
        let slot = match action {
            Action::Redact => &mut self.redacted,
            Action::Tokenise => &mut self.tokenised,
            Action::Block => &mut self.blocked,
            Action::Allow => &mut self.allowed,
        };
        *slot += 1;
    }
}

/// What protecting a request found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProtectReport {
    /// Counts by class label (`email`, `national-id`, custom names).
    pub classes: BTreeMap<String, ActionCounts>,
    /// Texts scanned (message contents, parts, tool arguments).
    pub texts: u32,
    /// Bytes scanned.
    pub bytes: u64,
}

impl ProtectReport {
    /// Findings of every class.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.classes.values().map(ActionCounts::total).sum()
    }

    pub(crate) fn record(&mut self, label: &str, action: Action) {
        if let Some(counts) = self.classes.get_mut(label) {
            counts.add(action);
        } else {
            let mut counts = ActionCounts::default();
            counts.add(action);
            self.classes.insert(label.to_owned(), counts);
        }
    }
}

/// What restoring an answer did with the tokens it met.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RestoreStats {
    /// Tokens replaced by their original values.
    pub restored: u32,
    /// Well-formed tokens this session never issued (invented by the model); left as they are.
    pub unknown: u32,
    /// `⟦` not followed by a well-formed token (mangled, or cut off at the end); left as it is.
    pub malformed: u32,
}

impl RestoreStats {
    /// Adds another count to this one.
    pub const fn merge(&mut self, other: Self) {
        self.restored += other.restored;
        self.unknown += other.unknown;
        self.malformed += other.malformed;
    }
}
