//! Owns the crate's errors: profile compilation (`SpecError`), refusing a
//! request (`Blocked`), and the vault (`VaultError`). None of them ever
//! carries a detected value.

use crate::report::ProtectReport;

/// A privacy spec that cannot be compiled; the message names the offending path.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A custom pattern or national-id pattern is not a valid regex.
    #[error("`{path}`: invalid regex: {source}")]
    Regex {
        /// Where in the spec, e.g. `custom[2].regex`.
        path: String,
        /// The regex compiler's reason.
        #[source]
        source: Box<regex::Error>,
    },
    /// A name is empty, has characters other than `a-z0-9_-`, repeats, or shadows a built-in class.
    #[error("`{path}`: invalid name `{name}`: {reason}")]
    Name {
        /// Where in the spec.
        path: String,
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A dictionary has no usable terms or the matcher could not be built.
    #[error("`{path}`: {reason}")]
    Dictionary {
        /// Where in the spec.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An entropy threshold is out of range.
    #[error("`secrets.entropy`: {0}")]
    Entropy(&'static str),
}

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
}

impl ProtectError {
    /// A low-cardinality label for metrics.
    #[must_use]
    pub const fn metric_label(&self) -> &'static str {
        match self {
            Self::Blocked(_) => "privacy_blocked",
            Self::NotChatRequest(_) => "privacy_bad_request",
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
