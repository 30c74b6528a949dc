//! Owns the crate's errors: refusing a request (`Blocked`) and the vault
//! (`VaultError`); a spec's (`SpecError`) is `signalbox-core`'s. None of them
//! ever carries a detected value.

use crate::report::ProtectReport;

/// The request contains data whose action is `block`. Names classes, never values.
#[derive(Debug, thiserror::Error)]
#[error("request refused by privacy policy: it contains data of class {}", .classes.join(", "))]
pub struct Blocked {
    /// Labels of the blocked classes found, sorted and without repeats.
    pub classes: Vec<String>,
    /// Counts for everything found, so the decision record can still list it.
    pub report: ProtectReport,
}

/// Why protecting a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    /// A `block` class was found; nothing was changed and nothing was stored.
    #[error(transparent)]
    Blocked(#[from] Blocked),
    /// The body is not a JSON object with a `messages` array.
    #[error("request body is not an OpenAI chat-completions request: {0}")]
    NotChatRequest(&'static str),
    /// Part of the body cannot be scanned (an embeddings request's token
    /// arrays): nothing may cross a boundary unchecked.
    #[error("request body cannot be scanned: {0}")]
    Unscannable(&'static str),
}

impl ProtectError {
    /// A low-cardinality label for metrics.
    #[must_use]
    pub const fn metric_label(&self) -> &'static str {
        match self {
            Self::Blocked(_) => "privacy_blocked",
            Self::NotChatRequest(_) | Self::Unscannable(_) => "privacy_bad_request",
        }
    }
}

/// A token vault could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The backing store is unreachable or failed (Redis implementations).
    #[error("token vault unavailable: {0}")]
    Unavailable(String),
}
