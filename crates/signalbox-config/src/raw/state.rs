//! The `state` section as written.

use schemars::JsonSchema;
use serde::Deserialize;

use super::RawApiKey;
use crate::model::StateBackendKind;
use crate::text::Text;

/// Where state shared across replicas lives (idempotency records, tenant
/// limits, open circuits).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "State")]
pub(crate) struct RawState {
    /// `memory` (default: per process) or `redis` (shared by every replica
    /// using the same Redis and key prefix).
    pub backend: Option<StateBackendKind>,
    /// The Redis URL (`redis://[:password@]host:port/db`) as `{env: VAR}` or
    /// `{file: PATH}`, never inline. Required with `backend: redis`.
    pub redis_url: Option<RawApiKey>,
    /// Prefix of every Redis key. Default `signalbox:`; non-empty, no whitespace.
    pub key_prefix: Option<Text>,
}
