//! Owns a chaos scenario as the runner uses it: upstreams (mock providers),
//! the gateway policy, the fault timeline, the load profile and the
//! invariants, read from YAML strictly (`raw.rs`) and validated with every
//! error naming its path (`validate.rs`), the way `signalbox-config` reads
//! a configuration. The format is documented in `docs/chaos.md`.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use signalbox_mock::{Faults, MockFormat};

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (the file's stem unless `name:` says otherwise).
    pub name: String,
    /// One line saying what it does to the gateway.
    pub description: String,
    /// Where it was read from.
    pub origin: String,
    /// Factor applied to the timeline and the load's duration (1 = as written).
    pub time_scale: f64,
    /// The factor `--short` applies instead (CI's short form).
    pub short_scale: f64,
    /// The mock providers, started on 127.0.0.1 port 0.
    pub upstreams: Vec<Upstream>,
    /// The gateway's configuration.
    pub policy: Policy,
    /// Extra `${VAR}` values (and `{env: VAR}` secrets such as tenant keys) for it.
    pub vars: BTreeMap<String, String>,
    /// Whether the runner starts a `redis-server` (`${REDIS_URL}` in the policy).
    pub redis: bool,
    /// Fault changes in time order.
    pub timeline: Vec<Step>,
    /// What the load looks like.
    pub load: Load,
    /// What must hold, in the order written.
    pub invariants: Vec<Invariant>,
}

/// One mock provider.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Its name: `${<NAME>_URL}` in the policy is its base URL.
    pub name: String,
    /// The wire format it speaks.
    pub format: MockFormat,
    /// Content chunks per streamed answer.
    pub stream_chunks: u32,
    /// Delay between streamed events.
    pub chunk_delay_ms: u64,
}

/// Where the gateway's configuration comes from.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Inline YAML text.
    Inline(String),
    /// A file (routes keep the base URLs written there: use `${<NAME>_URL}`).
    File(PathBuf),
    /// Not given: `--config` must supply one (its providers are remapped onto mocks).
    External,
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When, from the start of the load.
    pub at: Duration,
    /// What happens then.
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// One upstream's faults change.
    Faults {
        /// The upstream.
        upstream: String,
        /// Its faults from then on (default: healthy); boxed, as the
        /// largest variant by far.
        faults: Box<Faults>,
    },
    /// The gateway reloads this configuration (YAML text, interpolated
    /// like the scenario's policy), as on SIGHUP.
    Reload(String),
    /// The scenario's `redis-server` is killed or started again.
    Redis(RedisStep),
}

/// What a timeline step does to the scenario's `redis-server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisStep {
    /// Kill it (as a crash would).
    Stop,
    /// Start it again on the same port (empty: no persistence).
    Start,
}

/// The load profile.
#[derive(Debug, Clone)]
pub struct Load {
    /// How long requests are started for.
    pub duration: Duration,
    /// Requests started per second.
    pub rate: f64,
    /// At most this many in flight; the schedule waits when it is reached.
    pub concurrency: usize,
    /// The `model` (alias) asked for.
    pub model: String,
    /// Share of streamed requests.
    pub stream_share: f64,
    /// Share sent to `POST /v1/messages` as an Anthropic client would
    /// (the rest to `/v1/chat/completions`).
    pub anthropic_share: f64,
    /// Share sent with an `Idempotency-Key`, each twice at once.
    pub idempotent_share: f64,
    /// Share sent with `x-signalbox-irreversible: true`.
    pub irreversible_share: f64,
    /// Distinct `x-signalbox-session` values (0: none).
    pub sessions: u32,
    /// Who sends (anonymous when empty).
    pub tenants: Vec<Tenant>,
    /// The client's bound on one request.
    pub request_timeout: Duration,
    /// Seed of the request mix.
    pub seed: u64,
}

/// One tenant of the load.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The configuration's tenant id.
    pub name: String,
    /// Its API key (sent as a bearer token), if it has one.
    pub key: Option<String>,
    /// Relative share of requests.
    pub share: f64,
    /// Extra headers on its requests.
    pub headers: BTreeMap<String, String>,
}

/// One invariant to check.
#[derive(Debug, Clone, PartialEq)]
pub enum Invariant {
    /// Every request ends with a success or a well-formed error within `within`.
    DefiniteAnswer {
        /// The budget.
        within: Duration,
    },
    /// No idempotent or irreversible request executed upstream twice.
    NoDuplicateExecution,
    /// No attempt outside the tenant's regions, retention, content filter,
    /// or below the first-ranked route's posture.
    Residency,
    /// Every degraded answer is marked in the header, the body and the
    /// record, and every failover is a marked degradation.
    DegradationMarked,
    /// Attempts per request and upstream calls stay bounded, and an upstream
    /// in a 429 cooldown is left alone.
    BoundedAttempts {
        /// Attempts per request (default: the policy's largest budget).
        max: Option<u32>,
        /// Upstream calls per request over the run.
        max_amplification: Option<f64>,
        /// Calls a cooldown forgives right after its 429 (already under way).
        cooldown_grace: Duration,
    },
    /// The route's circuit opens within `opens_within` failures (plus what
    /// was already in flight) and, when asked, serves again after recovery.
    Breaker {
        /// The route.
        route: String,
        /// Failures allowed before the circuit opens.
        opens_within: u32,
        /// Whether traffic must return once the route's faults are cleared.
        closes_after_recovery: bool,
    },
    /// No stream cut, stalled or ended short upstream reaches the caller as
    /// a complete answer.
    NoTruncatedSuccess,
    /// After the run, with every fault cleared, a fresh request succeeds.
    HealthyAfter {
        /// How long to keep trying (default: the longest `open-for` + 2 s).
        within: Option<Duration>,
    },
    /// A provider's rejection (4xx) is not retried and reaches the caller
    /// with the provider's status and error code.
    RejectionsPropagated,
    /// At least `min` of the (named tenants') requests succeed.
    SuccessRate {
        /// The share, 0–1.
        min: f64,
        /// Only these tenants (all when empty).
        tenants: Vec<String>,
        /// Only requests sent after this point.
        after: Duration,
        /// Leave requests with an `Idempotency-Key` out (a shared-state
        /// outage refuses them by design).
        skip_keyed: bool,
    },
}

impl Invariant {
    /// The invariant's name in the file and the report.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DefiniteAnswer { .. } => "definite-answer",
            Self::NoDuplicateExecution => "no-duplicate-execution",
            Self::Residency => "residency",
            Self::DegradationMarked => "degradation-marked",
            Self::BoundedAttempts { .. } => "bounded-attempts",
            Self::Breaker { .. } => "breaker",
            Self::NoTruncatedSuccess => "no-truncated-success",
            Self::HealthyAfter { .. } => "healthy-after",
            Self::SuccessRate { .. } => "success-rate",
            Self::RejectionsPropagated => "rejections-propagated",
        }
    }
}

/// Every problem found in a scenario file, each `path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors {
    /// The file.
    pub origin: String,
    /// The problems.
    pub errors: Vec<String>,
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: invalid scenario:", self.origin)?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Self, ScenarioErrors> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioErrors {
            origin: origin.clone(),
            errors: vec![format!("cannot read the file: {e}")],
        })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &origin, stem.as_deref(), dir)
    }

    /// Reads and validates a scenario from text; `stem` names it when it has
    /// no `name:`, `dir` resolves `policy-file`.
    pub fn parse(
        text: &str,
        origin: &str,
        stem: Option<&str>,
        dir: &Path,
    ) -> Result<Self, ScenarioErrors> {
        let fail = |errors| ScenarioErrors {
            origin: origin.to_owned(),
            errors,
        };
        let de = yaml_serde::Deserializer::from_str(text);
        let raw: raw::RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner().to_string();
            fail(vec![if at == "." || at == "?" || at.is_empty() {
                inner
            } else {
                format!("{at}: {inner}")
            }])
        })?;
        validate::validate(raw, origin, stem, dir).map_err(fail)
    }

    /// The same scenario with its timeline and load duration multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Self {
        let scale = |d: Duration| d.mul_f64(factor.max(0.0));
        let mut out = self.clone();
        out.time_scale = factor;
        for step in &mut out.timeline {
            step.at = scale(step.at);
        }
        out.load.duration = scale(out.load.duration);
        for inv in &mut out.invariants {
            if let Invariant::SuccessRate { after, .. } = inv {
                *after = scale(*after);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
