//! The privacy section as written.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use signalbox_core::privacy_spec::PrivacySpec;

use crate::text::Text;

/// Trust zones and what may cross into them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Privacy")]
pub(crate) struct RawPrivacy {
    /// Zone names. Default `[internal, external]`.
    pub zones: Option<Vec<Text>>,
    /// How long a session's tokens stay restorable. Default `1h`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub vault_ttl: Option<Duration>,
    /// What happens to sensitive data crossing into each zone.
    #[serde(default)]
    pub boundaries: Vec<RawBoundary>,
}

/// One boundary: data classes and the action when they cross into `zone`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Boundary")]
pub(crate) struct RawBoundary {
    /// The zone this boundary guards.
    pub zone: Text,
    /// Detectors and actions: `classes` (email, phone, card, iban, ip,
    /// national-id, secret → redact | tokenise | block | allow),
    /// `national-ids`, `secrets`, `custom`, `dictionaries` (docs/privacy.md).
    #[schemars(with = "serde_json::Value")]
    pub protect: PrivacySpec,
}
