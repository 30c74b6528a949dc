//! Tenants, the admin credential and the decision log.
//!
//! Credentials are kept only as SHA-256 hashes, and `Debug` prints only how
//! many there are.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::{ContentFilter, Retention};

/// A tenant: who is calling, and the constraints that always apply to them.
#[derive(Clone, PartialEq)]
pub struct TenantConfig {
    /// Unique id.
    pub id: String,
    /// Plan name (matched by policy rules).
    pub plan: String,
    /// SHA-256 of each API key (see [`crate::hash_secret`]).
    pub api_key_hashes: Vec<[u8; 32]>,
    /// Regions requests of this tenant may be served from.
    pub allowed_regions: Vec<String>,
    /// Regions ranked first, in order; a subset of `allowed_regions`.
    pub preferred_regions: Vec<String>,
    /// Lowest risk tier of this tenant's requests (index into `Config::risk_tiers`).
    pub risk_floor: usize,
    /// Highest risk tier accepted (index into `Config::risk_tiers`); ≥ `risk_floor`.
    pub max_risk_tier: usize,
    /// Retention every route serving this tenant must at least guarantee.
    pub require_retention: Option<Retention>,
    /// Content filter every route serving this tenant must at least apply.
    pub require_content_filter: Option<ContentFilter>,
    /// Whether decision records may keep request content.
    pub log_content: bool,
    /// Spending cap per calendar month, in USD.
    pub monthly_budget_usd: Option<f64>,
    /// Concurrency and rate limits.
    pub limits: super::TenantLimits,
    /// Fair-share weight in route queues.
    pub weight: f64,
    /// Boundaries replacing the global ones for the same zones.
    pub privacy: Vec<super::Boundary>,
}

impl fmt::Debug for TenantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            id,
            plan,
            api_key_hashes,
            allowed_regions,
            preferred_regions,
            risk_floor,
            max_risk_tier,
            require_retention,
            require_content_filter,
            log_content,
            monthly_budget_usd,
            limits,
            weight,
            privacy,
        } = self;
        f.debug_struct("TenantConfig")
            .field("id", id)
            .field("plan", plan)
            .field("api_keys", &Redacted(api_key_hashes.len()))
            .field("allowed_regions", allowed_regions)
            .field("preferred_regions", preferred_regions)
            .field("risk_floor", risk_floor)
            .field("max_risk_tier", max_risk_tier)
            .field("require_retention", require_retention)
            .field("require_content_filter", require_content_filter)
            .field("log_content", log_content)
            .field("monthly_budget_usd", monthly_budget_usd)
            .field("limits", limits)
            .field("weight", weight)
            .field("privacy_boundaries", &privacy.len())
            .finish()
    }
}

/// The admin API credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdminConfig {
    /// SHA-256 of the full-rights admin token (`admin.token`).
    pub token_hash: Option<[u8; 32]>,
    /// Named tokens with a role (`admin.tokens`).
    pub tokens: Vec<AdminToken>,
}

impl AdminConfig {
    /// Whether any token is configured (without one the admin API is off).
    pub fn enabled(&self) -> bool {
        self.token_hash.is_some() || !self.tokens.is_empty()
    }
}

/// A named admin token with its role.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// Who holds it.
    pub name: String,
    /// What it may do.
    pub role: signalbox_core::operator::Role,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// The action kinds an operator may create and revert (`None`: all).
    pub actions: Option<Vec<signalbox_core::operator::ActionKind>>,
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("token", &Redacted(1))
            .field("actions", &self.actions)
            .finish()
    }
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig")
            .field("token", &Redacted(usize::from(self.token_hash.is_some())))
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// Prints `<N hashed>` instead of credential hashes.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} hashed>", self.0)
    }
}

/// Where and how long routing decisions are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionLogConfig {
    /// Whether decisions are recorded at all.
    pub enabled: bool,
    /// The database file.
    pub path: PathBuf,
    /// How long records are kept.
    pub retention: Duration,
    /// The most the records may take on disk, in MiB (the oldest go first
    /// past it); `0`: no limit.
    pub max_size_mb: u64,
    /// Records buffered in memory before new ones are dropped.
    pub queue: usize,
    /// How the writer thread competes with request handling for CPU.
    pub priority: LogPriority,
}

/// How the decision-log writer competes with request handling for CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LogPriority {
    /// Only CPU nothing else wants (Linux `SCHED_IDLE`): requests are never
    /// delayed by the writer; when the CPU is saturated records queue, then
    /// drop (counted).
    #[default]
    Idle,
    /// Nice 10: the writer takes a small share even when the CPU is busy, at
    /// some cost in tail latency on small machines.
    Low,
    /// The same priority as request handling: every record is written as
    /// long as the writer keeps up, at the expense of request CPU.
    Normal,
}

impl Default for DecisionLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: PathBuf::from("signalbox-decisions.db"),
            retention: Duration::from_secs(7 * 24 * 60 * 60),
            max_size_mb: 10_240,
            queue: 10_000,
            priority: LogPriority::default(),
        }
    }
}
