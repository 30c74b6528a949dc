//! The only place that maps errors to HTTP statuses and the OpenAI error
//! shape `{"error":{"message","type","code","param"}}` (Anthropic clients
//! get the same error in their shape, `respond/anthropic.rs`). Every
//! refusal the gateway makes, and every upstream failure it reports,
//! passes through here.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use signalbox_core::{AttemptRecord, OutcomeClass, ProviderErrorCode, RequestError, WireFormat};
use signalbox_dispatch::Failure;
use signalbox_policy::PolicyError;
use thiserror::Error;

use super::code::{ErrorCode, ErrorSpec, UpstreamVerdict};
use crate::failover::NoFallback;

/// What happened to the escalation webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhook {
    /// Queued for delivery (it never delays the caller's answer).
    Sent,
    /// No `resilience.escalation.webhook` is configured.
    NotConfigured,
}

impl Webhook {
    /// The word the caller's `signalbox.escalation.webhook` says.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::NotConfigured => "not-configured",
        }
    }
}

/// Everything the API can answer with instead of a completion.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The body is not a valid chat completion request.
    #[error(transparent)]
    InvalidRequest(#[from] RequestError),
    /// The body exceeded the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read from the connection.
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// The client did not send the whole body within
    /// `server.body-read-timeout`.
    #[error("the request body did not arrive within {}s (server.body-read-timeout)", after.as_secs_f64())]
    BodyTimeout {
        /// The deadline.
        after: std::time::Duration,
    },
    /// The policy refused the request (auth, headers, no eligible route).
    #[error(transparent)]
    Policy(PolicyError),
    /// Upstreams failed or rejected the request.
    /// Built by [`ApiError::upstream`], which decides the verdict.
    #[error("{}", upstream_message(failure, excluded, *fail_closed))]
    Upstream {
        /// Every attempt, and the rejection if the upstream refused the
        /// request (boxed: the rest of the errors are small, and every
        /// stage returns them).
        failure: Box<Failure>,
        /// Routes the policy excluded (why no compliant fallback existed).
        excluded: Vec<String>,
        /// Why the flow may not fall back (fail-closed policy, the caller's
        /// `x-signalbox-degrade: never`, no fallback step); `None` when it may.
        fail_closed: Option<NoFallback>,
        /// How the failure is answered, decided once from the rest.
        verdict: UpstreamVerdict,
    },
    /// The tenant is over one of its limits.
    #[error("tenant limit reached: {limit} is {value}; retry after {retry_after_secs}s")]
    TenantLimit {
        /// Which limit.
        limit: &'static str,
        /// Its configured value.
        value: u64,
        /// Seconds until a retry can pass.
        retry_after_secs: u64,
    },
    /// The tenant's `monthly-budget-usd` is spent until the next month (UTC).
    #[error(
        "monthly budget of ${budget_usd:.2} is spent (${spent_usd:.2} this month); it resets at {resets_at}"
    )]
    BudgetExceeded {
        /// The configured budget, USD.
        budget_usd: f64,
        /// Spent this month, USD.
        spent_usd: f64,
        /// When the next month starts (RFC 3339, UTC).
        resets_at: String,
        /// Seconds until then.
        retry_after_secs: u64,
    },
    /// A privacy boundary blocks data the request carries (names the
    /// classes, never the values).
    #[error("the request carries data that may not cross into zone {zone}: {}", classes.join(", "))]
    PrivacyBlocked {
        /// The zone whose boundary blocks.
        zone: String,
        /// Data classes found with action `block`.
        classes: Vec<String>,
    },
    /// The policy's last degradation step: a human takes over.
    #[error("escalated to a human: {reason}")]
    Escalated {
        /// Why the models could not serve.
        reason: String,
        /// What happened to the escalation webhook.
        webhook: Webhook,
    },
    /// The `Idempotency-Key` header is not 1–255 visible ASCII characters.
    #[error("idempotency-key must be 1–255 visible ASCII characters")]
    BadIdempotencyKey,
    /// The key was already used with a different request body.
    #[error("this idempotency-key was already used with a different request body")]
    IdempotencyConflict,
    /// The first request with this key is still running.
    #[error("a request with this idempotency-key is still in progress; retry later")]
    IdempotencyInFlight,
    /// No such endpoint.
    #[error("no route for {method} {path}")]
    NotFound {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
    },
    /// The shared-state store (Redis) could not answer; retrying may work.
    #[error("shared state unavailable: {0}")]
    StateUnavailable(String),
    /// A provider's answer could not be written in the client's format.
    #[error("the provider's answer could not be written in the client's format: {0}")]
    UntranslatableAnswer(String),
    /// The gateway failed internally.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// An upstream failure, with its verdict decided once.
    pub fn upstream(
        failure: Failure,
        excluded: Vec<String>,
        fail_closed: Option<NoFallback>,
    ) -> Self {
        let verdict = UpstreamVerdict::of(&failure, fail_closed.is_some());
        Self::Upstream {
            failure: Box::new(failure),
            excluded,
            fail_closed,
            verdict,
        }
    }

    /// The error's row in the table.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            Self::BodyRead(_) => ErrorCode::BodyRead,
            Self::BodyTimeout { .. } => ErrorCode::BodyTimeout,
            Self::Policy(p) => match p {
                PolicyError::MissingKey => ErrorCode::MissingKey,
                PolicyError::UnknownKey => ErrorCode::UnknownKey,
                PolicyError::Forbidden(_) => ErrorCode::Forbidden,
                PolicyError::BadHeader { .. } => ErrorCode::BadHeader,
                PolicyError::UnknownModel { .. } => ErrorCode::UnknownModel,
                PolicyError::NoEligibleRoute { .. } => ErrorCode::NoEligibleRoute,
            },
            Self::Upstream { verdict, .. } => verdict.code(),
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::UntranslatableAnswer(_) => ErrorCode::UntranslatableAnswer,
            Self::Internal(_) => ErrorCode::Internal,
            Self::StateUnavailable(_) => ErrorCode::StateUnavailable,
            Self::TenantLimit { .. } => ErrorCode::TenantLimit,
            Self::BudgetExceeded { .. } => ErrorCode::BudgetExceeded,
            Self::Escalated { .. } => ErrorCode::Escalated,
            Self::PrivacyBlocked { .. } => ErrorCode::PrivacyBlocked,
            Self::BadIdempotencyKey => ErrorCode::BadIdempotencyKey,
            Self::IdempotencyConflict => ErrorCode::IdempotencyConflict,
            Self::IdempotencyInFlight => ErrorCode::IdempotencyInFlight,
        }
    }

    /// The HTTP status for this error: the table's, except that a
    /// rejection passes the provider's 4xx through.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Upstream {
                verdict: UpstreamVerdict::Rejected { status },
                ..
            } => *status,
            _ => self.code().spec().status,
        }
    }

    /// Low-cardinality label for the errors metric.
    pub fn metric_label(&self) -> &'static str {
        self.code().spec().label
    }

    /// The `error.param`: the offending field or header, when one is.
    fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest(e) => e.param(),
            Self::Policy(PolicyError::BadHeader { header, .. }) => Some(header),
            _ => self.code().spec().param,
        }
    }

    /// Renders the error response in OpenAI's shape.
    pub fn into_response(self, request_id: &str) -> Response {
        self.into_response_in(request_id, WireFormat::OpenAi)
    }

    /// Renders the error response (status, the error JSON in the client's
    /// format, and `retry-after` when every attempt was rate limited).
    pub fn into_response_in(self, request_id: &str, format: WireFormat) -> Response {
        let status = self.status();
        let ErrorSpec { kind, code, .. } = self.code().spec();
        let mut body = json!({
            "error": { "message": self.to_string(), "type": kind, "code": code, "param": self.param() },
            "signalbox": { "request_id": request_id },
        });
        let mut retry_after = None;
        if let Self::Upstream {
            failure, excluded, ..
        } = &self
        {
            if let Some(rejection) = &failure.rejection {
                // The gateway's own code stays findable when the provider's
                // takes its place.
                body["signalbox"]["code"] = json!(code);
                if let Some(ids) = &rejection.provider_error {
                    provider_ids(&mut body["error"], ids);
                }
            }
            body["signalbox"]["attempts"] = json!(failure.attempts);
            if !failure.skipped.is_empty() {
                body["signalbox"]["skipped"] = json!(failure.skipped);
            }
            if !excluded.is_empty() {
                body["signalbox"]["excluded_by_policy"] = json!(excluded);
            }
            retry_after = all_rate_limited_retry_after(&failure.attempts);
            if failure.capacity_refused {
                retry_after = Some(1);
            }
            // Nothing was sent: every route is cooling down or open.
            if let Some(wait) = failure.available_in {
                retry_after = Some(ceil_secs(wait));
            }
        }
        if let Self::Escalated { reason, webhook } = &self {
            body["signalbox"]["escalation"] =
                json!({ "status": "escalated", "reason": reason, "webhook": webhook.label() });
        }
        if let Self::TenantLimit {
            retry_after_secs, ..
        }
        | Self::BudgetExceeded {
            retry_after_secs, ..
        } = &self
        {
            retry_after = Some(*retry_after_secs);
        }
        if let Self::BudgetExceeded { resets_at, .. } = &self {
            body["signalbox"]["budget_resets_at"] = json!(resets_at);
        }
        if format == WireFormat::Anthropic {
            body = super::anthropic::error_body(status, body, request_id);
        }
        let mut resp = Response::new(Body::from(body.to_string()));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

fn upstream_message(f: &Failure, excluded: &[String], fail_closed: Option<NoFallback>) -> String {
    if let Some(r) = &f.rejection {
        return format!("the provider rejected the request: {}", r.detail);
    }
    let mut msg = attempts_message(f);
    if !f.skipped.is_empty() {
        let skipped: Vec<String> = f
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.route, s.reason))
            .collect();
        msg.push_str(&format!("; skipped: {}", skipped.join("; ")));
    }
    if let Some(why) = f.stop.describe() {
        msg.push_str("; ");
        msg.push_str(why);
    }
    if let Some(why) = fail_closed {
        msg.push_str(&format!("; {}, so no fallback was tried", why.describe()));
    }
    if !excluded.is_empty() {
        msg.push_str(&format!(
            "; no compliant fallback: the policy excludes {}",
            excluded.join("; ")
        ));
    }
    msg
}

fn attempts_message(f: &Failure) -> String {
    if f.no_route_can_carry() {
        return "no permitted route's provider can express this request".to_string();
    }
    if f.attempts.is_empty() {
        return "no upstream route was available".to_string();
    }
    let list: Vec<String> = f
        .attempts
        .iter()
        .map(|a| {
            format!(
                "{} ({}, {} ms): {}",
                a.route,
                a.outcome.label(),
                a.elapsed.as_millis(),
                a.detail
            )
        })
        .collect();
    let n = f.attempts.len();
    format!(
        "all {n} upstream attempt{} failed: {}",
        if n == 1 { "" } else { "s" },
        list.join("; ")
    )
}

/// Puts a rejecting provider's own identifiers where an OpenAI client reads
/// them (`error.code` when the provider sent a code, `error.type`,
/// `error.param`), also as `error.provider_code` / `provider_type`. They
/// are upstream-supplied: the provider layer has scrubbed and bounded them.
fn provider_ids(error: &mut serde_json::Value, ids: &ProviderErrorCode) {
    if let Some(code) = &ids.code {
        error["code"] = json!(code);
    }
    if let Some(kind) = &ids.kind {
        error["type"] = json!(kind);
    }
    if let Some(param) = &ids.param {
        error["param"] = json!(param);
    }
    error["provider_code"] = json!(ids.code);
    error["provider_type"] = json!(ids.kind);
}

/// Whole seconds, rounded up, at least 1 (a `retry-after: 0` invites a
/// retry storm).
fn ceil_secs(d: std::time::Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

fn all_rate_limited_retry_after(attempts: &[AttemptRecord]) -> Option<u64> {
    if attempts.is_empty()
        || !attempts
            .iter()
            .all(|a| a.outcome == OutcomeClass::RateLimited)
    {
        return None;
    }
    attempts
        .iter()
        .filter_map(|a| a.retry_after_secs)
        .min()
        .or(Some(1))
}

#[cfg(test)]
mod tests;
