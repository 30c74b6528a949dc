//! Owns the scenario file as written: strict serde structs (unknown keys are
//! errors, reported with their path), before any check across fields.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use signalbox_mock::Faults;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawScenario {
    pub(crate) name: Option<String>,
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) time_scale: Option<f64>,
    #[serde(default)]
    pub(crate) short_scale: Option<f64>,
    #[serde(default)]
    pub(crate) upstreams: Vec<RawUpstream>,
    /// The gateway configuration, inline (a mapping, interpolated like a
    /// configuration file, with `${<UPSTREAM>_URL}` set).
    #[serde(default)]
    pub(crate) policy: Option<yaml_serde::Value>,
    /// The gateway configuration in a file, relative to the scenario.
    #[serde(default)]
    pub(crate) policy_file: Option<String>,
    /// Start a `redis-server` for the gateway (`${REDIS_URL}`).
    #[serde(default)]
    pub(crate) redis: bool,
    /// Extra `${VAR}` values (and `{env: VAR}` secrets) for the policy.
    #[serde(default)]
    pub(crate) vars: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) timeline: Vec<RawStep>,
    pub(crate) load: RawLoad,
    pub(crate) invariants: RawInvariants,
}

/// One mock provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawUpstream {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) format: Option<String>,
    #[serde(default)]
    pub(crate) stream_chunks: Option<u32>,
    #[serde(default)]
    pub(crate) chunk_delay_ms: Option<u64>,
}

/// One step of the fault timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawStep {
    #[serde(with = "humantime_serde")]
    pub(crate) at: Duration,
    #[serde(default)]
    pub(crate) upstream: Option<String>,
    /// Replaces the upstream's faults (the body of `POST /_mock/faults`).
    #[serde(default)]
    pub(crate) faults: Option<Faults>,
    /// Clears the upstream's faults.
    #[serde(default)]
    pub(crate) clear: bool,
    /// Reloads the gateway with this configuration (as SIGHUP does).
    #[serde(default)]
    pub(crate) reload: Option<yaml_serde::Value>,
    /// Stops or starts the scenario's `redis-server`.
    #[serde(default)]
    pub(crate) redis: Option<crate::scenario::RedisStep>,
}

/// The load profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLoad {
    #[serde(with = "humantime_serde")]
    pub(crate) duration: Duration,
    pub(crate) rate: f64,
    #[serde(default)]
    pub(crate) concurrency: Option<usize>,
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) stream_share: f64,
    #[serde(default)]
    pub(crate) anthropic_share: f64,
    #[serde(default)]
    pub(crate) idempotent_share: f64,
    #[serde(default)]
    pub(crate) irreversible_share: f64,
    #[serde(default)]
    pub(crate) sessions: u32,
    #[serde(default)]
    pub(crate) tenants: Vec<RawTenant>,
    #[serde(default, with = "humantime_serde")]
    pub(crate) request_timeout: Option<Duration>,
    #[serde(default)]
    pub(crate) seed: Option<u64>,
}

/// A tenant of the load: its key and share of requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawTenant {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) share: Option<f64>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
}

/// The invariants to check; each present key is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawInvariants {
    #[serde(default)]
    pub(crate) definite_answer: Option<RawDefinite>,
    #[serde(default)]
    pub(crate) no_duplicate_execution: Option<Empty>,
    #[serde(default)]
    pub(crate) residency: Option<Empty>,
    #[serde(default)]
    pub(crate) degradation_marked: Option<Empty>,
    #[serde(default)]
    pub(crate) bounded_attempts: Option<RawAttempts>,
    #[serde(default)]
    pub(crate) breaker: Option<RawBreaker>,
    #[serde(default)]
    pub(crate) no_truncated_success: Option<Empty>,
    #[serde(default)]
    pub(crate) healthy_after: Option<RawHealthy>,
    #[serde(default)]
    pub(crate) success_rate: Option<RawSuccess>,
    #[serde(default)]
    pub(crate) rejections_propagated: Option<Empty>,
}

/// An invariant without settings: `residency: {}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Empty {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawDefinite {
    #[serde(with = "humantime_serde")]
    pub(crate) within: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawAttempts {
    #[serde(default)]
    pub(crate) max: Option<u32>,
    #[serde(default)]
    pub(crate) max_amplification: Option<f64>,
    #[serde(default, with = "humantime_serde")]
    pub(crate) cooldown_grace: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawBreaker {
    pub(crate) route: String,
    pub(crate) opens_within: u32,
    #[serde(default)]
    pub(crate) closes_after_recovery: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawHealthy {
    #[serde(default, with = "humantime_serde")]
    pub(crate) within: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawSuccess {
    pub(crate) min: f64,
    #[serde(default)]
    pub(crate) tenants: Vec<String>,
    #[serde(default, with = "humantime_serde")]
    pub(crate) after: Option<Duration>,
    #[serde(default)]
    pub(crate) skip_keyed: bool,
}
