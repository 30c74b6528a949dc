//! Owns the configuration file: YAML parsing, `${VAR}` interpolation, strict
//! deserialisation, validation that reports every error with its path, secret
//! resolution, the JSON Schema export and the `signalbox check` summary.
//!
//! The result is a frozen [`Config`]; nothing downstream sees raw YAML.
//! The reference for the file format is `docs/configuration.md`.

mod error;
mod fingerprint;
mod include;
mod interp;
mod load;
mod model;
mod raw;
mod schema;
mod secret;
mod summary;
#[cfg(test)]
mod test_temp;
mod text;
mod validate;
mod vars;
mod version;

pub use error::{ConfigError, ConfigErrors};
pub use interp::{InterpError, interpolate_str};
pub use load::{load_file, load_str};
pub use model::{
    AdminConfig, AdminToken, AliasConfig, AwsConfig, BreakerConfig, CanaryConfig, CanaryRollback,
    CanarySubject, Capability, Config, ContentFilter, DEFAULT_AZURE_API_VERSION,
    DEFAULT_GEMINI_API_VERSION, DEFAULT_KEY_PREFIX, DEFAULT_MAX_STREAM_EVENT_BYTES,
    DEFAULT_REGIONS, DEFAULT_RISK_TIERS, DEFAULT_TENANT, DecisionLogConfig, DegradeStep,
    EmbeddingSpec, EndpointKind, EscalationConfig, FailureMode, HealthCheckConfig,
    IdempotencyConfig, IntentConfig, IntentRule, IntentWhen, LogPriority, MaxOutput, Objectives,
    PolicyRule, Posture, Price, ProbeMode, PromptConfig, PromptVersion, ProviderConfig,
    ProviderKind, QualityBudget, QualityConfig, QualitySuite, Requirements, Resilience, Retention,
    RetryClass, RetryOn, RetryPolicy, RouteConfig, RouteSelector, RuleWhen, SCORERS, Scheduler,
    ServerConfig, ShadowConfig, ShadowRule, StateBackend, StateBackendKind, StateConfig,
    StreamBreak, SuitePrompt, Supports, Template, TenantConfig, TenantLimits, Timeouts, Weights,
};
pub use schema::json_schema;
pub use secret::{MAX_SECRET_FILE_BYTES, Secret, SecretError, SecretSource, hash_secret};
pub use vars::{EnvVars, OverlayVars, VarSource};

/// The `origin` to use for a configuration compiled into the binary.
pub const EMBEDDED_ORIGIN: &str = "<embedded>";
