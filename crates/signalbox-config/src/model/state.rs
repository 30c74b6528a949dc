//! Where state shared across replicas lives.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::secret::Secret;

/// The default Redis key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "signalbox:";

/// `state.backend` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StateBackendKind {
    /// In-process stores: nothing is shared between replicas.
    Memory,
    /// Redis: every replica with the same URL and prefix shares the state.
    Redis,
}

/// The validated backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StateBackend {
    /// In-process stores (the default).
    #[default]
    Memory,
    /// Redis at `url` (a secret: it may carry a password).
    Redis {
        /// The connection URL.
        url: Secret,
    },
}

/// The `state` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// Where the shared stores live.
    pub backend: StateBackend,
    /// Prefix of every Redis key.
    pub key_prefix: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            backend: StateBackend::Memory,
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
        }
    }
}
