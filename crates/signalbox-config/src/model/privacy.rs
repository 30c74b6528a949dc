//! Trust zones and the boundaries that guard them.

use std::time::Duration;

use signalbox_core::privacy_spec::PrivacySpec;

/// Zone names used when the document has none.
pub const DEFAULT_ZONES: &[&str] = &["internal", "external"];
/// The zone of a route that names none: providers are outside by default.
pub const DEFAULT_ROUTE_ZONE: &str = "external";

/// Trust zones and what may cross into them.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyConfig {
    /// Zone names.
    pub zones: Vec<String>,
    /// How long a session's tokens stay restorable.
    pub vault_ttl: Duration,
    /// Boundaries (at most one per zone).
    pub boundaries: Vec<Boundary>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            zones: DEFAULT_ZONES.iter().map(|z| (*z).to_owned()).collect(),
            vault_ttl: Duration::from_secs(3600),
            boundaries: Vec::new(),
        }
    }
}

/// What happens to sensitive data crossing into one zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    /// Index into `PrivacyConfig::zones`.
    pub zone: usize,
    /// Detectors and actions (compiled once per runtime).
    pub spec: PrivacySpec,
}
