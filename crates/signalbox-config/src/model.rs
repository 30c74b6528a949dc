//! The frozen, validated configuration the gateway runs on.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use signalbox_core::{AliasName, OpenAiQuirks, ProviderName, RouteId};

pub use signalbox_core::EndpointKind;

pub use signalbox_core::ProviderKind;

use crate::secret::Secret;

mod endpoints;
mod enums;
mod policy;
mod posture;
mod privacy;
mod prompts;
mod quality;
mod resilience;
mod rollout;
mod state;
mod tenant;

pub use enums::{Capability, ContentFilter, DegradeStep, FailureMode};
pub use policy::{
    IntentConfig, IntentRule, IntentWhen, Objectives, PolicyRule, Requirements, RouteSelector,
    RuleWhen, Weights,
};
pub use posture::Posture;
pub use privacy::{Boundary, DEFAULT_ROUTE_ZONE, PrivacyConfig};
pub use prompts::{PromptConfig, PromptVersion, Template};
pub use quality::{QualityBudget, QualityConfig, QualitySuite, SCORERS, SuitePrompt};
pub use resilience::{
    BreakerConfig, EscalationConfig, HealthCheckConfig, IdempotencyConfig, ProbeMode, Resilience,
    RetryClass, RetryOn, RetryPolicy, TenantLimits,
};
pub use rollout::{CanaryConfig, CanaryRollback, CanarySubject, ShadowConfig, ShadowRule};
pub use state::{DEFAULT_KEY_PREFIX, StateBackend, StateBackendKind, StateConfig};
pub use tenant::{AdminConfig, AdminToken, DecisionLogConfig, LogPriority, TenantConfig};

/// Risk tiers when the document has no `risk-tiers` list, lowest first.
pub const DEFAULT_RISK_TIERS: &[&str] = &["public", "internal", "sensitive", "restricted"];

/// The tenant created when the document configures none.
pub const DEFAULT_TENANT: &str = "default";

/// Region names known when the document has no `regions` list.
pub const DEFAULT_REGIONS: &[&str] =
    &["us", "eu", "uk", "ca", "apac", "jp", "au", "in", "sa", "me"];

/// A validated configuration; build it with [`crate::load_file`] or [`crate::load_str`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The HTTP listener.
    pub server: ServerConfig,
    /// Known region names.
    pub regions: Vec<String>,
    /// Upstream endpoints, in document order.
    pub providers: Vec<ProviderConfig>,
    /// Upstream targets, in document order.
    pub routes: Vec<RouteConfig>,
    /// Names clients send as `model`, in document order.
    pub aliases: Vec<AliasConfig>,
    /// Risk tier names, lowest first; tiers elsewhere are indices into this list.
    pub risk_tiers: Vec<String>,
    /// Tenants in document order; never empty (an implicit `default` when none are configured).
    pub tenants: Vec<TenantConfig>,
    /// The tenant that serves requests without an API key; `None` requires a key.
    pub anonymous_tenant: Option<String>,
    /// The admin API credential.
    pub admin: AdminConfig,
    /// Where routing decisions are recorded.
    pub decision_log: DecisionLogConfig,
    /// How a request's intent is classified.
    pub intents: IntentConfig,
    /// Policy rules in evaluation order.
    pub policy_rules: Vec<PolicyRule>,
    /// Retries, idempotency, escalation (breakers and probes are per route).
    pub resilience: Resilience,
    /// Trust zones and boundaries.
    pub privacy: PrivacyConfig,
    /// The prompt registry, in document order.
    pub prompts: Vec<PromptConfig>,
    /// Where state shared across replicas lives.
    pub state: StateConfig,
    /// Evaluation suites run against routes.
    pub quality: QualityConfig,
    /// Shadow traffic.
    pub shadow: ShadowConfig,
    /// Canary rollouts, in document order.
    pub canaries: Vec<CanaryConfig>,
    /// Policy version: 12 hex chars of the SHA-256 of the interpolated document.
    pub version: String,
    /// The file path, or `<embedded>`.
    pub origin: String,
    /// The files named under `include`, resolved against the main file's directory, in order.
    pub includes: Vec<PathBuf>,
    /// The document as written, before interpolation, then each included
    /// file's text: what the decision log keeps per policy version.
    pub source_text: String,
}

impl Config {
    /// The provider called `name`.
    pub fn provider(&self, name: &ProviderName) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| &p.name == name)
    }

    /// The route with id `id`.
    pub fn route(&self, id: &RouteId) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| &r.id == id)
    }

    /// The alias a client asked for by `name`.
    pub fn alias(&self, name: &str) -> Option<&AliasConfig> {
        self.aliases.iter().find(|a| a.name.as_str() == name)
    }

    /// The registered prompt `id`.
    pub fn prompt(&self, id: &str) -> Option<&PromptConfig> {
        self.prompts.iter().find(|p| p.id == id)
    }

    /// The tenant with id `id`.
    pub fn tenant(&self, id: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// The index of risk tier `name` in [`Config::risk_tiers`].
    pub fn risk_tier_index(&self, name: &str) -> Option<usize> {
        self.risk_tiers.iter().position(|t| t == name)
    }
}

/// The HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How `signalbox serve` spreads connections over threads.
    pub scheduler: Scheduler,
    /// Worker threads; `None`: one per CPU the process may use.
    pub threads: Option<usize>,
    /// Longest a new connection may take to send its first request head.
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// Longest a connection may wait, idle, for its next complete request head.
    pub keep_alive_timeout: Duration,
    /// Most open client connections; `None`: half the open-file limit.
    pub max_connections: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 4000)),
            max_body_bytes: 4 * 1024 * 1024,
            scheduler: Scheduler::default(),
            threads: None,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: None,
        }
    }
}

/// How `signalbox serve` runs requests on threads (read at startup only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scheduler {
    /// One single-threaded runtime per worker thread, each accepting its
    /// own connections (`SO_REUSEPORT`) and serving them to the end: no
    /// hand-offs between threads within a request.
    #[default]
    PerCore,
    /// One shared work-stealing runtime: idle threads take work from busy
    /// ones, so one busy connection (HTTP/2 multiplexing many requests)
    /// can use every core.
    WorkStealing,
}

impl Scheduler {
    /// The name used in the configuration (`per-core`, `work-stealing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerCore => "per-core",
            Self::WorkStealing => "work-stealing",
        }
    }
}

/// One upstream endpoint with its credentials.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Unique name.
    pub name: ProviderName,
    /// Wire protocol.
    pub kind: ProviderKind,
    /// Base URL without a trailing `/`, e.g. `https://api.openai.com/v1`
    /// (for Bedrock: the runtime endpoint).
    pub base_url: String,
    /// Resolved API key, if any.
    pub api_key: Option<Secret>,
    /// Azure `api-version` or Gemini API version (always set for those
    /// kinds: [`DEFAULT_AZURE_API_VERSION`], [`DEFAULT_GEMINI_API_VERSION`]).
    pub api_version: Option<String>,
    /// Bedrock region and credentials.
    pub aws: Option<AwsConfig>,
    /// What an OpenAI-compatible (or Azure) server accepts.
    pub quirks: OpenAiQuirks,
    /// Extra request headers, sorted by name.
    pub headers: Vec<(String, String)>,
    /// Upstream deadlines.
    pub timeouts: Timeouts,
    /// Largest single stream event accepted from this provider, in bytes
    /// (an SSE event, or a Bedrock event-stream message).
    pub max_stream_event_bytes: usize,
}

/// The default cap on one upstream stream event: room for the largest
/// legitimate events (a base64 image part of a few MiB) while an upstream
/// that never ends its event cannot grow a stream's buffer past it.
pub const DEFAULT_MAX_STREAM_EVENT_BYTES: usize = 8 * 1024 * 1024;
/// The smallest cap accepted: below it ordinary chunks would be refused.
pub const MIN_MAX_STREAM_EVENT_BYTES: u64 = 4 * 1024;

/// The Azure OpenAI `api-version` used when a provider names none (GA).
pub const DEFAULT_AZURE_API_VERSION: &str = default_api_version(ProviderKind::AzureOpenAi);
/// The Gemini API version path used when a provider names none.
pub const DEFAULT_GEMINI_API_VERSION: &str = default_api_version(ProviderKind::Gemini);

/// The `api-version` a kind defaults to (empty for kinds that take none).
const fn default_api_version(kind: ProviderKind) -> &'static str {
    match kind.settings().api_version {
        Some(v) => v,
        None => "",
    }
}

/// A Bedrock provider's region and resolved credentials.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// Access key id.
    pub access_key_id: Secret,
    /// Secret access key.
    pub secret_access_key: Secret,
    /// Session token of temporary credentials.
    pub session_token: Option<Secret>,
}

/// Upstream deadlines and stream stall limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// From sending the request to the first response byte.
    pub first_byte: Duration,
    /// For a stream: from sending the request to its first event (a head
    /// that arrives at once does not count); the attempt fails over when
    /// it passes. The shorter of this and `first_byte` applies.
    pub first_token: Duration,
    /// The whole attempt, including streaming the body.
    pub total: Duration,
    /// Longest silence between stream chunks once streaming.
    pub idle: Duration,
    /// Slowest acceptable stream in events (≈ tokens) per second.
    pub min_tokens_per_second: Option<f64>,
    /// The window the minimum throughput is measured over.
    pub throughput_window: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_secs(120),
            first_token: Duration::from_secs(30),
            total: Duration::from_secs(600),
            idle: Duration::from_secs(60),
            min_tokens_per_second: None,
            throughput_window: Duration::from_secs(10),
        }
    }
}

/// One upstream target: provider + upstream model + region.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    /// Unique id.
    pub id: RouteId,
    /// The provider that serves it.
    pub provider: ProviderName,
    /// Model name sent upstream.
    pub model: String,
    /// Where the model runs.
    pub region: String,
    /// Pinned model version (defaults to `model`).
    pub version: String,
    /// Context window in tokens.
    pub context_window: u32,
    /// Largest completion in tokens.
    pub max_output_tokens: u32,
    /// What a request asking for more than `max_output_tokens` gets.
    pub max_output: MaxOutput,
    /// Capabilities.
    pub supports: Supports,
    /// USD per million tokens.
    pub price: Price,
    /// Data-retention guarantee.
    pub retention: Retention,
    /// Highest risk tier this route may serve (index into `Config::risk_tiers`).
    pub max_risk_tier: usize,
    /// Content-filtering posture.
    pub content_filter: ContentFilter,
    /// Circuit-breaker thresholds.
    pub breaker: BreakerConfig,
    /// Active health check.
    pub health_check: HealthCheckConfig,
    /// Share of sticky sessions among equally ranked routes.
    pub weight: f64,
    /// Requests in flight at once (excess queues fairly), if limited.
    pub max_concurrency: Option<u32>,
    /// Trust zone (index into `PrivacyConfig::zones`).
    pub zone: usize,
    /// Requests per second sent to this route, if limited.
    pub max_requests_per_second: Option<u32>,
    /// The API the route's model serves (the `endpoint` constraint).
    pub endpoint: EndpointKind,
    /// The provider also serves the OpenAI Responses API for this model
    /// (`endpoint: [chat, responses]`): a Responses request is passed
    /// through to it as the client wrote it, while nothing rewrote it.
    pub responses: bool,
    /// The embedding space and limits (`endpoint: embeddings` only).
    pub embedding: Option<EmbeddingSpec>,
}

/// An embedding route's capability record: the space its vectors are in
/// (failover never leaves it) and its input limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingSpec {
    /// The embedding model's identity (default: the route's `model`).
    pub model: String,
    /// Length of the vectors returned.
    pub dimensions: u32,
    /// Longest single input, in tokens.
    pub max_input_tokens: u32,
    /// Most inputs per upstream call.
    pub max_batch: u32,
}

impl EmbeddingSpec {
    /// Whether vectors of `self` and `other` may be compared: same model,
    /// same dimensions. Anything else is another space, never a fallback.
    pub fn same_space(&self, other: &Self) -> bool {
        self.model == other.model && self.dimensions == other.dimensions
    }
}

/// What a route does with a request whose `max_tokens` is above its
/// `max-output-tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MaxOutput {
    /// Serve it, sending the route's limit instead (a translation note and
    /// the `x-signalbox-max-tokens-clamped` header say so).
    #[default]
    Clamp,
    /// The route is not a candidate (the `max_output_tokens` constraint).
    Refuse,
}

/// Capabilities of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supports {
    /// Tool / function calling.
    pub tools: bool,
    /// Image inputs.
    pub vision: bool,
    /// `response_format: json_object`.
    pub json_mode: bool,
    /// `stream: true`.
    pub streaming: bool,
    /// Continues an answer from an assistant prefill (the text already
    /// delivered when another route's stream broke): `on-stream-break:
    /// continue` only re-issues to such routes.
    pub prefill_continuation: bool,
    /// Takes a reasoning effort or thinking budget (OpenAI reasoning
    /// models, Anthropic extended thinking, Gemini thinking): a translated
    /// request's effort is sent only to such routes of the kinds that
    /// spell it as a budget (docs/api.md).
    pub reasoning: bool,
}

impl Default for Supports {
    fn default() -> Self {
        Self {
            tools: false,
            vision: false,
            json_mode: false,
            streaming: true,
            prefill_continuation: false,
            reasoning: false,
        }
    }
}

/// Price in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    /// Prompt tokens.
    pub input_per_1m: f64,
    /// Completion tokens.
    pub output_per_1m: f64,
}

impl Price {
    /// What `prompt_tokens` in and `completion_tokens` out cost, in USD.
    pub fn cost_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input_per_1m + completion_tokens as f64 * self.output_per_1m)
            / 1_000_000.0
    }
}

/// Data-retention guarantee; orders strongest (`Zero`) first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Retention {
    /// Nothing is stored.
    Zero,
    /// Stored only for abuse monitoring.
    AbuseMonitoring,
    /// The provider's standard retention.
    #[default]
    Standard,
    /// May be used for training.
    Training,
}

impl Retention {
    /// Every level, strongest first.
    pub const ALL: [Self; 4] = [
        Self::Zero,
        Self::AbuseMonitoring,
        Self::Standard,
        Self::Training,
    ];

    /// The kebab-case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zero => "zero",
            Self::AbuseMonitoring => "abuse-monitoring",
            Self::Standard => "standard",
            Self::Training => "training",
        }
    }

    /// Parses the kebab-case name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A virtual model name and the routes behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasConfig {
    /// What clients send as `model`.
    pub name: AliasName,
    /// Routes in failover order.
    pub routes: Vec<RouteId>,
    /// Most attempts per request (defaults to the number of routes).
    pub max_attempts: usize,
    /// The alias tried by the `smaller-model` degradation step.
    pub smaller_model: Option<AliasName>,
    /// What a stream that breaks after its first event does.
    pub on_stream_break: StreamBreak,
}

/// What a stream that breaks after its first event does (`on-stream-break`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StreamBreak {
    /// End it with an explicit error event (the caller keeps what arrived).
    #[default]
    Error,
    /// Re-issue the request to the next eligible route that declares
    /// `prefill-continuation`, with the text already delivered as an
    /// assistant prefill, and stream the rest, marked; `error` when none can.
    Continue,
}
