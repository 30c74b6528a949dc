//! Response and request header names used across the gateway, in one place so
//! that tests, docs and code agree.

/// Caller-supplied or generated request id, echoed on every response.
pub const REQUEST_ID: &str = "x-request-id";
/// Response: the gateway's own id for the request, always generated; the
/// key of its decision record (equal to `x-request-id` when the caller sent none).
pub const GATEWAY_REQUEST_ID: &str = "x-signalbox-request-id";
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
/// Response: the ids of the operator actions that changed the request's
/// routing, comma-separated (absent when none).
pub const OPERATOR_ACTIONS: &str = "x-signalbox-operator-actions";
/// Request: `never` turns any degradation into a fail-closed refusal.
pub const DEGRADE: &str = "x-signalbox-degrade";
/// Request: the caller's idempotency key (scoped per tenant).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Response: `true` when the body is a replay of an earlier answer.
pub const IDEMPOTENT_REPLAY: &str = "x-signalbox-idempotent-replay";
/// Request: the one route (by id) that may serve the request, for evaluating a
/// route through the policy (`signalbox eval run --route`): it may only
/// narrow the decision, never widen it (the route must be an eligible
/// candidate of the alias under every hard constraint).
pub const PIN_ROUTE: &str = "x-signalbox-pin-route";
/// Request: the registered prompt to use, `id` or `id@version`.
pub const PROMPT: &str = "x-signalbox-prompt";
/// Request: the prompt's variables, a JSON object of strings.
pub const PROMPT_VARIABLES: &str = "x-signalbox-prompt-variables";
/// Response: the prompt id and version used, `id@version`.
pub const PROMPT_VERSION: &str = "x-signalbox-prompt-version";
/// Response: the caller's `max_tokens` and what the serving route was sent
/// instead, `requested->sent` (routes with `max-output: clamp`).
pub const MAX_TOKENS_CLAMPED: &str = "x-signalbox-max-tokens-clamped";
/// Response: the request fields the serving route was sent without, as
/// the client named them, `seed,user` (each field's declared behaviour:
/// `signalbox_adapters::unsupported`; the decision record says why).
pub const DROPPED_FIELDS: &str = "x-signalbox-dropped-fields";

/// The credential of an `Authorization: Bearer <token>` value, whatever the
/// scheme's case (RFC 9110 §11.1: auth schemes are case-insensitive); the
/// one parser behind tenant keys and the admin token. `None` for another
/// scheme or an empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    const SCHEME: &str = "bearer";
    let scheme = authorization.get(..SCHEME.len())?;
    let rest = authorization.get(SCHEME.len()..)?;
    if !scheme.eq_ignore_ascii_case(SCHEME) || !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some(rest.trim()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in [
            "Bearer k1",
            "bearer k1",
            "BEARER k1",
            "bEaReR   k1 ",
            "Bearer\tk1",
        ] {
            assert_eq!(bearer_token(v), Some("k1"), "{v:?}");
        }
        for v in ["Basic k1", "Bearerk1", "Bearer ", "Bear", "", "Bearer   "] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }
}
