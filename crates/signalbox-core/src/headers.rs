//! Response and request header names used across the gateway, in one place so
//! that tests, docs and code agree.

/// Caller-supplied or generated request id, echoed on every response.
pub const REQUEST_ID: &str = "x-request-id";
/// The route that produced the response (or the last route tried).
pub const ROUTE: &str = "x-signalbox-route";
/// The provider of that route.
pub const PROVIDER: &str = "x-signalbox-provider";
/// The upstream model name and version actually used.
pub const MODEL: &str = "x-signalbox-model";
/// Number of upstream attempts made for this request.
pub const ATTEMPTS: &str = "x-signalbox-attempts";
/// Content hash of the loaded configuration.
pub const POLICY_VERSION: &str = "x-signalbox-policy-version";
/// Request: the caller's intent (`search`, `drafting`, `action`, …).
pub const INTENT: &str = "x-signalbox-intent";
/// Request: the caller's risk tier; may raise, never lower, the tenant's floor.
pub const RISK_TIER: &str = "x-signalbox-risk-tier";
/// Request: requested data residency; must be within the tenant's regions.
pub const REGION: &str = "x-signalbox-region";
/// Request: session id for stickiness.
pub const SESSION: &str = "x-signalbox-session";
/// Request: `true` marks an irreversible operation (at-most-once).
pub const IRREVERSIBLE: &str = "x-signalbox-irreversible";
/// Response: the degradation steps taken, comma-separated (absent when none).
pub const DEGRADED: &str = "x-signalbox-degraded";
/// Request: `never` turns any degradation into a fail-closed refusal.
pub const DEGRADE: &str = "x-signalbox-degrade";
/// Request: the caller's idempotency key (scoped per tenant).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response: `true` when the body is a replay of an earlier answer.
pub const IDEMPOTENT_REPLAY: &str = "x-signalbox-idempotent-replay";
/// Request: the registered prompt to use, `id` or `id@version`.
pub const PROMPT: &str = "x-signalbox-prompt";
/// Request: the prompt's variables, a JSON object of strings.
pub const PROMPT_VARIABLES: &str = "x-signalbox-prompt-variables";
/// Response: the prompt id and version used, `id@version`.
pub const PROMPT_VERSION: &str = "x-signalbox-prompt-version";
/// Response: the caller's `max_tokens` and what the serving route was sent
/// instead, `requested->sent` (routes with `max-output: clamp`).
pub const MAX_TOKENS_CLAMPED: &str = "x-signalbox-max-tokens-clamped";
