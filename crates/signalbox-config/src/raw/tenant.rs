//! Tenants, the admin credential and the decision log, as written.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::RawApiKey;
use crate::model::{ContentFilter, Retention};
use crate::text::Text;

/// A tenant: who is calling, and the constraints that always apply to them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Tenant")]
pub(crate) struct RawTenant {
    /// Unique id, `[A-Za-z0-9._-]+`.
    pub id: Text,
    /// Plan name matched by policy rules. Default `default`.
    pub plan: Option<Text>,
    /// Keys clients present: each `{env: VAR}` or `{file: PATH}`; only their
    /// SHA-256 is kept. At least one unless this is the anonymous tenant.
    pub api_keys: Option<Vec<RawApiKey>>,
    /// Regions this tenant may be served from. Default: all known regions.
    pub allowed_regions: Option<Vec<Text>>,
    /// Regions ranked first, in order; each in allowed-regions. Default none.
    pub preferred_regions: Option<Vec<Text>>,
    /// Lowest risk tier of this tenant's requests. Default: the lowest tier.
    pub risk_floor: Option<Text>,
    /// Highest risk tier accepted; ≥ risk-floor. Default: the highest tier.
    pub max_risk_tier: Option<Text>,
    /// Retention every serving route must at least guarantee.
    pub require_retention: Option<Retention>,
    /// Content filter every serving route must at least apply.
    pub require_content_filter: Option<ContentFilter>,
    /// Whether decision records may keep request content. Default false.
    pub log_content: Option<bool>,
    /// Spending cap per calendar month in USD; finite and ≥ 0.
    #[schemars(range(min = 0))]
    pub monthly_budget_usd: Option<f64>,
    /// Concurrency, requests and tokens per minute. Default unlimited.
    pub limits: Option<super::RawLimits>,
    /// Fair-share weight in route queues (e.g. by plan). Default 1; > 0.
    pub weight: Option<f64>,
    /// This tenant's boundaries, replacing `privacy.boundaries` for the same zones.
    pub privacy: Option<Vec<super::RawBoundary>>,
}

/// The admin API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Admin")]
pub(crate) struct RawAdmin {
    /// The full-rights token (role `admin`, named `admin`): `{env: VAR}` or
    /// `{file: PATH}`; only its SHA-256 is kept. With neither this nor
    /// `tokens`, the admin API is disabled.
    pub token: Option<RawApiKey>,
    /// Named tokens with a role: `read-only` (look only) or `operator`
    /// (operator actions, optionally only some kinds).
    pub tokens: Option<Vec<RawAdminToken>>,
}

/// A named admin token with its role.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "AdminToken")]
pub(crate) struct RawAdminToken {
    /// Who holds it: recorded with every call it makes. Unique.
    pub name: crate::text::Text,
    /// `read-only` or `operator` (`admin` is `admin.token`'s).
    pub role: signalbox_core::operator::Role,
    /// `{env: VAR}` or `{file: PATH}`; only its SHA-256 is kept.
    pub token: RawApiKey,
    /// The action kinds an operator may create and revert. Default: all.
    pub actions: Option<Vec<signalbox_core::operator::ActionKind>>,
}

/// Where and how long routing decisions are recorded.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "DecisionLog")]
pub(crate) struct RawDecisionLog {
    /// Default true.
    pub enabled: Option<bool>,
    /// Database file. Default `signalbox-decisions.db`; non-empty.
    pub path: Option<Text>,
    /// How long records are kept. Default `7d`; > 0.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub retention: Option<Duration>,
    /// The most the records may take on disk, in MiB; past it the oldest
    /// are deleted. Default 10240 (10 GiB); `0`: no limit.
    pub max_size_mb: Option<u64>,
    /// Records buffered in memory. Default 10000; ≥ 1.
    #[schemars(range(min = 1))]
    pub queue: Option<usize>,
    /// The writer's CPU priority: `idle` (default), `low` or `normal`.
    pub priority: Option<crate::model::LogPriority>,
}
