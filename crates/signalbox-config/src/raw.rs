//! The document as written: strict serde structs, converted by `validate`.
//!
//! Every struct denies unknown keys; absent optional keys stay `None` here and
//! get their defaults in `validate`, so defaults live in one place.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::model::{ContentFilter, ProviderKind, Retention};
use crate::secret::SecretSource;
use crate::text::Text;

mod endpoint;
mod policy;
mod privacy;
mod quality;
mod resilience;
mod rollout;
mod state;
mod tenant;

pub(crate) use endpoint::{RawEndpoint, RawEndpointName};
pub(crate) use policy::{
    RawIntentRule, RawIntentWhen, RawIntents, RawObjectives, RawPolicy, RawPolicyRule, RawRequire,
    RawRuleWhen, RawSelect, RawWeights,
};
pub(crate) use privacy::{RawBoundary, RawPrivacy};
pub(crate) use quality::{RawQuality, RawQualityBudget, RawQualitySuite};
pub(crate) use resilience::{
    RawBreaker, RawEscalation, RawHealthCheck, RawIdempotency, RawLimits, RawResilience, RawRetry,
};
pub(crate) use rollout::{RawCanary, RawCanaryRollback, RawShadow, RawShadowRule};
pub(crate) use state::RawState;
pub(crate) use tenant::{RawAdmin, RawAdminToken, RawDecisionLog, RawTenant};

/// A Signalbox configuration file (after `${VAR}` interpolation).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(
    title = "Signalbox configuration",
    extend("required" = ["providers", "routes", "aliases"])
)]
pub(crate) struct RawConfig {
    /// Files, relative to this one, whose `providers`, `routes`, `aliases`,
    /// `tenants`, `intents.rules` and `policy.rules` entries are appended to
    /// this file's, in order. Merged before deserialisation, so always absent here.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "declared for the JSON Schema; `load` merges includes"
    )]
    pub include: Option<Vec<Text>>,
    /// The HTTP listener.
    #[serde(default)]
    pub server: Option<RawServer>,
    /// Known region names. Default: us, eu, uk, ca, apac, jp, au, in, sa, me.
    #[serde(default)]
    pub regions: Option<Vec<Text>>,
    /// Upstream endpoints (at least one).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub providers: Vec<RawProvider>,
    /// Upstream targets: provider + model + region (at least one).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub routes: Vec<RawRoute>,
    /// Names clients send as `model`, each with routes in failover order (at least one).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub aliases: Vec<RawAlias>,
    /// Risk tier names, lowest first. Default: public, internal, sensitive, restricted.
    #[serde(default)]
    pub risk_tiers: Option<Vec<Text>>,
    /// Who may call. Absent or empty: one implicit tenant `default`, served anonymously.
    #[serde(default)]
    pub tenants: Option<Vec<RawTenant>>,
    /// The tenant that serves requests without an API key. Default: `default`
    /// when no tenants are configured, otherwise none (a key is required).
    #[serde(default)]
    pub anonymous_tenant: Option<Text>,
    /// The admin API.
    #[serde(default)]
    pub admin: Option<RawAdmin>,
    /// Where routing decisions are recorded.
    #[serde(default)]
    pub decision_log: Option<RawDecisionLog>,
    /// How a request's intent is classified.
    #[serde(default)]
    pub intents: Option<RawIntents>,
    /// Policy rules, evaluated in order.
    #[serde(default)]
    pub policy: Option<RawPolicy>,
    /// Breakers, health checks, retries, idempotency, escalation.
    #[serde(default)]
    pub resilience: Option<RawResilience>,
    /// Trust zones and what sensitive data may cross into them.
    #[serde(default)]
    pub privacy: Option<RawPrivacy>,
    /// The prompt registry: versioned system prompts with per-provider variants.
    #[serde(default)]
    pub prompts: Option<Vec<RawPrompt>>,
    /// Where state shared across replicas lives. Default: in memory.
    #[serde(default)]
    pub state: Option<RawState>,
    /// Evaluation suites run against routes, and the pass rates that keep
    /// a route serving.
    #[serde(default)]
    pub quality: Option<RawQuality>,
    /// Shadow traffic: live requests mirrored to a route whose answers are
    /// scored against the served ones, never returned.
    #[serde(default)]
    pub shadow: Option<RawShadow>,
    /// Canary rollouts: a route takes a growing share of an alias's
    /// traffic in steps, promoted on clean windows, rolled back on a
    /// regression.
    #[serde(default)]
    pub canary: Option<Vec<RawCanary>>,
}

/// A registered prompt.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Prompt")]
pub(crate) struct RawPrompt {
    /// Unique id, `[A-Za-z0-9._-]+`; requests name it.
    pub id: Text,
    /// The version used when a request names none. Default: the last listed.
    pub default_version: Option<Text>,
    /// Versions (at least one).
    pub versions: Vec<RawPromptVersion>,
}

/// One version of a prompt.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "PromptVersion")]
pub(crate) struct RawPromptVersion {
    /// Unique within the prompt, `[A-Za-z0-9._-]+`.
    pub version: Text,
    /// The system prompt, with `{{variable}}` placeholders.
    pub template: Text,
    /// Per provider family (`openai`, `anthropic`, `gemini`, `bedrock`): a
    /// template used instead for routes of that family.
    pub variants: Option<BTreeMap<String, Text>>,
}

/// The HTTP listener.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Server")]
pub(crate) struct RawServer {
    /// `IP:PORT` to bind. Default `127.0.0.1:4000`.
    pub listen: Option<Text>,
    /// Largest accepted request body in bytes. Default 4194304 (4 MiB); > 0.
    #[schemars(range(min = 1))]
    pub max_body_bytes: Option<u64>,
    /// `per-core` (default: one single-threaded runtime per worker thread,
    /// each with its own connections) or `work-stealing` (one shared
    /// runtime). Read at startup.
    pub scheduler: Option<crate::model::Scheduler>,
    /// Worker threads, 1–1024. Default: one per CPU. Read at startup.
    #[schemars(range(min = 1, max = 1024))]
    pub threads: Option<u64>,
    /// How long a new connection may take to send its first request head,
    /// from the accept. Default `30s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub header_read_timeout: Option<Duration>,
    /// How long a client may take to send a whole request body. Default `60s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub body_read_timeout: Option<Duration>,
    /// How long a connection with no request in flight may take to send
    /// its next complete request head. Default `75s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub keep_alive_timeout: Option<Duration>,
    /// Most open client connections for the process; more are accepted and
    /// closed at once. Default: half the open-file limit. Read at startup.
    #[schemars(range(min = 1))]
    pub max_connections: Option<u64>,
}

/// One upstream endpoint.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Provider")]
pub(crate) struct RawProvider {
    /// Unique name, `[A-Za-z0-9._-]+`.
    pub name: Text,
    /// Wire protocol: `openai-compatible`, `azure-openai`, `anthropic`,
    /// `gemini`, `bedrock` or `cohere`.
    pub kind: ProviderKind,
    /// `http(s)://host[:port][/path]`, no query or fragment. OpenAI-compatible:
    /// including `/v1`; Anthropic and Gemini: the host root; Azure: the
    /// resource endpoint. Optional for Bedrock only (default
    /// `https://bedrock-runtime.{aws-region}.amazonaws.com`).
    pub base_url: Option<Text>,
    /// `{env: VAR}` or `{file: PATH}`; inline keys are rejected.
    pub api_key: Option<RawApiKey>,
    /// Azure `api-version` (default `2024-10-21`) or Gemini API version path
    /// (default `v1beta`).
    pub api_version: Option<Text>,
    /// Bedrock: the AWS region (required for `bedrock`).
    pub aws_region: Option<Text>,
    /// Bedrock: where the AWS credentials come from. Default: the
    /// environment variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// (when set) `AWS_SESSION_TOKEN`.
    pub aws_credentials: Option<RawAwsCredentials>,
    /// OpenAI-compatible and Azure: fields the server does not accept.
    pub quirks: Option<signalbox_core::OpenAiQuirks>,
    /// Extra request headers (not for credentials).
    pub headers: Option<BTreeMap<String, Text>>,
    /// Upstream deadlines.
    pub timeouts: Option<RawTimeouts>,
    /// Largest single stream event (SSE event or event-stream message)
    /// accepted from this provider, in bytes. Default 8 MiB.
    pub max_stream_event_bytes: Option<u64>,
}

/// AWS credentials for a Bedrock provider, each `{env: VAR}` or `{file: PATH}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "AwsCredentials")]
pub(crate) struct RawAwsCredentials {
    /// The access key id.
    pub access_key_id: RawApiKey,
    /// The secret access key.
    pub secret_access_key: RawApiKey,
    /// The session token of temporary credentials.
    pub session_token: Option<RawApiKey>,
}

/// Upstream deadlines in humantime form (`500ms`, `5s`, `2m`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Timeouts")]
pub(crate) struct RawTimeouts {
    /// TCP + TLS connect. Default `2s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub connect: Option<Duration>,
    /// Until the first response byte. Default `120s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub first_byte: Option<Duration>,
    /// For a stream, until its first event (failing over after it).
    /// Default `30s`; the shorter of this and `first-byte` applies.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub first_token: Option<Duration>,
    /// The whole attempt. Default `600s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub total: Option<Duration>,
    /// Longest silence between stream chunks. Default `60s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub idle: Option<Duration>,
    /// Slowest acceptable stream, in events (≈ tokens) per second over
    /// `throughput-window`. Default none.
    pub min_tokens_per_second: Option<f64>,
    /// Window for `min-tokens-per-second`. Default `10s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub throughput_window: Option<Duration>,
}

/// One upstream target.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Route")]
pub(crate) struct RawRoute {
    /// Unique id, `[A-Za-z0-9._-]+`.
    pub id: Text,
    /// Name of a provider.
    pub provider: Text,
    /// Model name sent upstream.
    pub model: Text,
    /// A known region.
    pub region: Text,
    /// Pinned model version. Default: `model`.
    pub version: Option<Text>,
    /// Context window in tokens. Default 8192.
    #[schemars(range(min = 1))]
    pub context_window: Option<u32>,
    /// Largest completion in tokens. Default 4096; ≤ context-window.
    #[schemars(range(min = 1))]
    pub max_output_tokens: Option<u32>,
    /// A request's `max_tokens` above `max-output-tokens`: `clamp` (default:
    /// send the route's limit) or `refuse` (the route is not a candidate).
    pub max_output: Option<crate::model::MaxOutput>,
    /// Capabilities.
    pub supports: Option<RawSupports>,
    /// USD per million tokens. Default 0.
    pub price: Option<RawPrice>,
    /// Data retention. Default `standard`.
    pub retention: Option<Retention>,
    /// Highest risk tier this route may serve. Default: the highest tier.
    pub max_risk_tier: Option<Text>,
    /// Content-filtering posture. Default `standard`.
    pub content_filter: Option<ContentFilter>,
    /// Overrides of `resilience.breaker` for this route.
    pub breaker: Option<RawBreaker>,
    /// Overrides of `resilience.health-check` for this route.
    pub health_check: Option<RawHealthCheck>,
    /// Share of sticky sessions among equally ranked routes. Default 1; > 0.
    pub weight: Option<f64>,
    /// Requests in flight on this route at once; excess waits in a fair
    /// per-tenant queue up to `resilience.queue-timeout`. Default unlimited.
    pub max_concurrency: Option<u32>,
    /// The trust zone the route's provider is in. Default `external`.
    pub zone: Option<Text>,
    /// Requests per second sent to this route (one second of burst); bounds
    /// how fast traffic shifts onto it. Default unlimited.
    pub max_requests_per_second: Option<u32>,
    /// The API the route's model serves: `chat` (default) or `embeddings`;
    /// `[chat, responses]` for a chat model whose provider (OpenAI, Azure
    /// OpenAI, or an OpenAI-compatible server that has it) also serves the
    /// Responses API, to which Responses requests are passed through.
    pub endpoint: Option<RawEndpoint>,
    /// The embedding model's space and limits; required with `endpoint:
    /// embeddings`, refused otherwise.
    pub embedding: Option<RawEmbedding>,
}

/// An embedding route's capability record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Embedding")]
pub(crate) struct RawEmbedding {
    /// Length of the vectors the route returns. Required; > 0.
    #[schemars(range(min = 1))]
    pub dimensions: u32,
    /// The embedding model's identity: routes of one alias must share it
    /// (and `dimensions`). Default: the route's `model`.
    pub model: Option<Text>,
    /// Longest single input in tokens. Default 8192; > 0.
    #[schemars(range(min = 1))]
    pub max_input_tokens: Option<u32>,
    /// Most inputs per upstream call; larger arrays are split into
    /// batches. Default 2048; > 0.
    #[schemars(range(min = 1))]
    pub max_batch: Option<u32>,
}

/// Capabilities of a route.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Supports")]
pub(crate) struct RawSupports {
    /// Default false.
    pub tools: Option<bool>,
    /// Default false.
    pub vision: Option<bool>,
    /// Default false.
    pub json_mode: Option<bool>,
    /// Default true.
    pub streaming: Option<bool>,
    /// Continues an answer from an assistant prefill (used by
    /// `on-stream-break: continue`). Default false: declare it only for
    /// models that do (many recent ones refuse a prefill).
    pub prefill_continuation: Option<bool>,
    /// Takes extended thinking / a thinking budget (a translated reasoning
    /// effort is sent to Anthropic, Gemini and Bedrock routes only with
    /// it). Default false.
    pub reasoning: Option<bool>,
}

/// Price in USD per million tokens; finite and ≥ 0.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Price")]
pub(crate) struct RawPrice {
    /// Prompt tokens. Default 0.
    #[schemars(range(min = 0))]
    pub input_per_1m: Option<f64>,
    /// Completion tokens. Default 0.
    #[schemars(range(min = 0))]
    pub output_per_1m: Option<f64>,
}

/// A virtual model name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Alias")]
pub(crate) struct RawAlias {
    /// Unique name clients send as `model`.
    pub name: Text,
    /// Route ids in failover order; no duplicates.
    pub routes: Vec<Text>,
    /// Most attempts per request. Default: number of routes; ≥ 1.
    #[schemars(range(min = 1))]
    pub max_attempts: Option<usize>,
    /// The alias whose routes the `smaller-model` degradation step tries.
    pub smaller_model: Option<Text>,
    /// `error` (default): a stream that breaks after its first event ends
    /// with an error event. `continue`: the rest is asked of the next
    /// eligible route with `supports.prefill-continuation`, marked.
    pub on_stream_break: Option<crate::model::StreamBreak>,
}

/// `api-key` as written. An inline string is kept only as the fact that it
/// was inline (never its value) so validation can report it with the rest.
#[derive(Debug)]
pub(crate) enum RawApiKey {
    /// `{env: ...}` or `{file: ...}`.
    Source(SecretSource),
    /// A literal key in the file: rejected by validation.
    Inline,
}

impl<'de> Deserialize<'de> for RawApiKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ApiKeyVisitor)
    }
}

struct ApiKeyVisitor;

impl<'de> Visitor<'de> for ApiKeyVisitor {
    type Value = RawApiKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{env: VAR} or {file: PATH}")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawApiKey, E> {
        Ok(RawApiKey::Inline)
    }

    fn visit_string<E: de::Error>(self, _: String) -> Result<RawApiKey, E> {
        Ok(RawApiKey::Inline)
    }

    // A numeric key is still an inline key; never echo it in a type error.
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawApiKey, E> {
        Ok(RawApiKey::Inline)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawApiKey, E> {
        Ok(RawApiKey::Inline)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawApiKey, E> {
        Ok(RawApiKey::Inline)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawApiKey, A::Error> {
        SecretSource::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawApiKey::Source)
    }
}

impl JsonSchema for RawApiKey {
    fn schema_name() -> Cow<'static, str> {
        "ApiKey".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        SecretSource::json_schema(generator)
    }
}
