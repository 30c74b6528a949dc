//! The policy's own refusals. They are final: never retried or failed over.

use thiserror::Error;

/// Why the policy refused a request.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// No API key, and anonymous access is not enabled.
    #[error("missing API key: send `Authorization: Bearer <key>` or `x-api-key`")]
    MissingKey,
    /// The API key matches no tenant.
    #[error("invalid API key")]
    UnknownKey,
    /// A header asked for more than the tenant is allowed.
    #[error("{0}")]
    Forbidden(String),
    /// A routing header has a value the policy does not know.
    #[error("{header}: {problem}")]
    BadHeader {
        /// The header name.
        header: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The requested model is not a configured alias.
    #[error("the model `{model}` does not exist; available models: {known}")]
    UnknownModel {
        /// What the caller asked for.
        model: String,
        /// The configured aliases, comma-separated.
        known: String,
    },
    /// Every candidate route was excluded by a hard constraint.
    #[error("no route of `{alias}` can serve this request under the policy: {reasons}")]
    NoEligibleRoute {
        /// The alias.
        alias: String,
        /// Why each route was excluded, `;`-separated.
        reasons: String,
    },
}

impl PolicyError {
    /// Low-cardinality label for metrics and records.
    pub fn label(&self) -> &'static str {
        match self {
            Self::MissingKey => "missing_key",
            Self::UnknownKey => "invalid_key",
            Self::Forbidden(_) => "forbidden",
            Self::BadHeader { .. } => "bad_header",
            Self::UnknownModel { .. } => "model_not_found",
            Self::NoEligibleRoute { .. } => "no_eligible_route",
        }
    }
}
