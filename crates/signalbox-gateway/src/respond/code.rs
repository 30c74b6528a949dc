//! Owns the one table from every way the API answers with an error to its
//! HTTP status, OpenAI error `type`, error `code` and metric label (after
//! Meilisearch's error-code table), and the verdict on a failed dispatch,
//! decided once from its `Failure`. The response, the errors metric and the
//! decision record all read the same row, so they cannot disagree.

use axum::http::StatusCode;
use signalbox_core::OutcomeClass;
use signalbox_dispatch::Failure;

/// One row of the table: one way the API answers with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not a valid chat completion request.
    InvalidRequest,
    /// The body exceeded `server.max-body-bytes`.
    BodyTooLarge,
    /// The body could not be read from the connection.
    BodyRead,
    /// The body did not arrive within `server.body-read-timeout`.
    BodyTimeout,
    /// No API key, and no anonymous tenant.
    MissingKey,
    /// A key that matches no tenant.
    UnknownKey,
    /// A header asked for more than the tenant may have.
    Forbidden,
    /// A routing header has a value the policy does not know.
    BadHeader,
    /// The `model` is not a configured alias.
    UnknownModel,
    /// Every candidate route is excluded by a hard constraint.
    NoEligibleRoute,
    /// The provider rejected the request itself.
    UpstreamRejected,
    /// No permitted route's provider can express the request.
    UnsupportedByRoutes,
    /// Every eligible route was at capacity; nothing was sent.
    RouteCapacity,
    /// The flow may not fall back, and its route failed or was skipped.
    FailClosed,
    /// A provider answered badly (5xx, broken body, refused credentials).
    UpstreamFailed,
    /// A deadline passed without a provider answering badly.
    UpstreamTimeout,
    /// Providers were unreachable, rate limited or busy.
    UpstreamUnavailable,
    /// No such endpoint.
    NotFound,
    /// A provider's answer could not be written in the client's format.
    UntranslatableAnswer,
    /// The gateway failed internally.
    Internal,
    /// The shared-state store could not answer.
    StateUnavailable,
    /// The tenant is over one of its limits.
    TenantLimit,
    /// The tenant's monthly budget is spent.
    BudgetExceeded,
    /// The policy's last degradation step: a human takes over.
    Escalated,
    /// A privacy boundary blocks data the request carries.
    PrivacyBlocked,
    /// A malformed `Idempotency-Key`.
    BadIdempotencyKey,
    /// The key was already used with another body.
    IdempotencyConflict,
    /// The first request with this key is still running.
    IdempotencyInFlight,
}

/// What one row says: how the caller and the metrics see the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorSpec {
    /// The HTTP status ([`ErrorCode::UpstreamRejected`] passes the
    /// provider's 4xx through instead; this is its fallback).
    pub status: StatusCode,
    /// The OpenAI `error.type`.
    pub kind: &'static str,
    /// The `error.code`.
    pub code: &'static str,
    /// The `class` of `signalbox_errors_total`.
    pub label: &'static str,
    /// The `error.param`, when it is always the same.
    pub param: Option<&'static str>,
}

const INVALID: &str = "invalid_request_error";
const UPSTREAM: &str = "upstream_error";
const RATE: &str = "rate_limit_error";
const PERMISSION: &str = "permission_error";
const SERVER: &str = "server_error";

const fn row(
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    label: &'static str,
) -> ErrorSpec {
    ErrorSpec {
        status,
        kind,
        code,
        label,
        param: None,
    }
}

const fn with_param(spec: ErrorSpec, param: &'static str) -> ErrorSpec {
    ErrorSpec {
        param: Some(param),
        ..spec
    }
}

impl ErrorCode {
    /// Every row, in table order.
    pub const ALL: [Self; 28] = [
        Self::InvalidRequest,
        Self::BodyTooLarge,
        Self::BodyRead,
        Self::BodyTimeout,
        Self::MissingKey,
        Self::UnknownKey,
        Self::Forbidden,
        Self::BadHeader,
        Self::UnknownModel,
        Self::NoEligibleRoute,
        Self::UpstreamRejected,
        Self::UnsupportedByRoutes,
        Self::RouteCapacity,
        Self::FailClosed,
        Self::UpstreamFailed,
        Self::UpstreamTimeout,
        Self::UpstreamUnavailable,
        Self::NotFound,
        Self::UntranslatableAnswer,
        Self::Internal,
        Self::StateUnavailable,
        Self::TenantLimit,
        Self::BudgetExceeded,
        Self::Escalated,
        Self::PrivacyBlocked,
        Self::BadIdempotencyKey,
        Self::IdempotencyConflict,
        Self::IdempotencyInFlight,
    ];

    /// The table (docs/errors.md lists the same rows for callers); one row
    /// a line, so it is not wrapped.
    #[rustfmt::skip]
    pub const fn spec(self) -> ErrorSpec {
        use StatusCode as S;
        const KEY: &str = "idempotency-key";
        match self {
            Self::InvalidRequest => row(S::BAD_REQUEST, INVALID, "invalid_request", "invalid_request"),
            Self::BodyTooLarge => row(S::PAYLOAD_TOO_LARGE, INVALID, "request_too_large", "body_too_large"),
            Self::BodyRead => row(S::BAD_REQUEST, INVALID, "body_read_error", "body_read"),
            Self::BodyTimeout => row(S::REQUEST_TIMEOUT, INVALID, "request_timeout", "body_timeout"),
            Self::MissingKey => row(S::UNAUTHORIZED, INVALID, "invalid_api_key", "missing_key"),
            Self::UnknownKey => row(S::UNAUTHORIZED, INVALID, "invalid_api_key", "invalid_key"),
            Self::Forbidden => row(S::FORBIDDEN, PERMISSION, "policy_forbidden", "forbidden"),
            Self::BadHeader => row(S::BAD_REQUEST, INVALID, "invalid_header", "bad_header"),
            Self::UnknownModel => with_param(row(S::NOT_FOUND, INVALID, "model_not_found", "model_not_found"), "model"),
            Self::NoEligibleRoute => row(S::BAD_REQUEST, INVALID, "no_eligible_route", "no_eligible_route"),
            Self::UpstreamRejected => row(S::BAD_REQUEST, INVALID, "upstream_rejected", "upstream_rejected"),
            Self::UnsupportedByRoutes => row(S::BAD_REQUEST, INVALID, "unsupported_by_routes", "unsupported_by_routes"),
            Self::RouteCapacity => row(S::TOO_MANY_REQUESTS, RATE, "route_capacity", "route_capacity"),
            Self::FailClosed => row(S::SERVICE_UNAVAILABLE, UPSTREAM, "fail_closed", "fail_closed"),
            Self::UpstreamFailed => row(S::BAD_GATEWAY, UPSTREAM, "upstream_failed", "upstream_failed"),
            Self::UpstreamTimeout => row(S::GATEWAY_TIMEOUT, UPSTREAM, "upstream_timeout", "upstream_failed"),
            Self::UpstreamUnavailable => row(S::SERVICE_UNAVAILABLE, UPSTREAM, "upstream_unavailable", "upstream_failed"),
            Self::NotFound => row(S::NOT_FOUND, INVALID, "unknown_url", "not_found"),
            Self::UntranslatableAnswer => row(S::BAD_GATEWAY, UPSTREAM, "untranslatable_answer", "upstream_failed"),
            Self::Internal => row(S::INTERNAL_SERVER_ERROR, SERVER, "internal_error", "internal"),
            Self::StateUnavailable => row(S::SERVICE_UNAVAILABLE, SERVER, "state_unavailable", "state_unavailable"),
            Self::TenantLimit => row(S::TOO_MANY_REQUESTS, RATE, "tenant_limit", "tenant_limit"),
            Self::BudgetExceeded => row(S::TOO_MANY_REQUESTS, RATE, "budget_exceeded", "budget_exceeded"),
            Self::Escalated => row(S::SERVICE_UNAVAILABLE, "escalation", "human_escalation", "escalated"),
            Self::PrivacyBlocked => row(S::FORBIDDEN, PERMISSION, "privacy_blocked", "privacy_blocked"),
            Self::BadIdempotencyKey => with_param(row(S::BAD_REQUEST, INVALID, "invalid_idempotency_key", "bad_idempotency_key"), KEY),
            Self::IdempotencyConflict => with_param(row(S::UNPROCESSABLE_ENTITY, INVALID, "idempotency_key_reused", "idempotency_conflict"), KEY),
            Self::IdempotencyInFlight => with_param(row(S::CONFLICT, INVALID, "idempotency_in_progress", "idempotency_in_flight"), KEY),
        }
    }
}

/// How a failed dispatch is answered, decided once from its [`Failure`]
/// (and whether the flow may fall back). The order of the checks is the
/// precedence: a rejection names the request as the problem whatever else
/// happened; "nothing was sent" cases come next; then fail-closed; then
/// what the attempts say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamVerdict {
    /// The provider rejected the request itself: its 4xx passes through
    /// (400 when it sent another status).
    Rejected {
        /// The status the caller gets.
        status: StatusCode,
    },
    /// Nothing was sent: no permitted route's provider can express it.
    NoRouteCanCarry,
    /// Nothing was sent: every route that could serve was at capacity.
    RouteCapacity,
    /// The flow may not fall back, and its route failed or was skipped.
    FailClosed,
    /// Every permitted attempt failed; the attempts say how.
    Failed(Failed),
}

/// What the failed attempts of a dispatch add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// A provider answered badly (5xx, broken body, refused credentials,
    /// a cut stream): 502.
    BadAnswer,
    /// A deadline passed and no provider answered badly: 504.
    Timeout,
    /// Providers were unreachable, rate limited or busy, or nothing could
    /// be sent: 503.
    Unavailable,
}

impl UpstreamVerdict {
    /// The verdict on `f`; `fail_closed` when the flow may not fall back.
    pub fn of(f: &Failure, fail_closed: bool) -> Self {
        if let Some(r) = &f.rejection {
            let status = StatusCode::from_u16(r.status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_REQUEST);
            return Self::Rejected { status };
        }
        if f.no_route_can_carry() {
            return Self::NoRouteCanCarry;
        }
        if f.capacity_refused && f.attempts.is_empty() {
            return Self::RouteCapacity;
        }
        if fail_closed {
            return Self::FailClosed;
        }
        Self::Failed(Failed::of(f))
    }

    /// The table row.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::Rejected { .. } => ErrorCode::UpstreamRejected,
            Self::NoRouteCanCarry => ErrorCode::UnsupportedByRoutes,
            Self::RouteCapacity => ErrorCode::RouteCapacity,
            Self::FailClosed => ErrorCode::FailClosed,
            Self::Failed(Failed::BadAnswer) => ErrorCode::UpstreamFailed,
            Self::Failed(Failed::Timeout) => ErrorCode::UpstreamTimeout,
            Self::Failed(Failed::Unavailable) => ErrorCode::UpstreamUnavailable,
        }
    }
}

impl Failed {
    fn of(f: &Failure) -> Self {
        // A route that could have served was at capacity: the answer is
        // "busy, retry shortly", whatever the failed attempts before it say.
        if f.capacity_refused {
            return Self::Unavailable;
        }
        let any = |c: &[OutcomeClass]| f.attempts.iter().any(|a| c.contains(&a.outcome));
        if any(&[
            OutcomeClass::ServerError,
            OutcomeClass::BadResponse,
            OutcomeClass::AuthRejected,
            OutcomeClass::StreamCut,
        ]) {
            Self::BadAnswer
        } else if any(&[OutcomeClass::Timeout]) {
            Self::Timeout
        } else {
            Self::Unavailable
        }
    }
}

/// The Anthropic `error.type` of a status, for errors answered in the
/// Anthropic shape (`/v1/messages`): the row's status, encoded as Anthropic
/// documents it (<https://docs.claude.com/en/api/errors>; other 4xx are
/// `invalid_request_error`, other 5xx `api_error`).
pub fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row, pinned: status, type, code, metric label. A change here
    /// changes what callers and dashboards see (docs/errors.md, docs/metrics.md).
    #[test]
    fn every_row_of_the_table_is_pinned() {
        use ErrorCode as C;
        #[rustfmt::skip]
        let want: [(ErrorCode, u16, &str, &str, &str); 28] = [
            (C::InvalidRequest, 400, INVALID, "invalid_request", "invalid_request"),
            (C::BodyTooLarge, 413, INVALID, "request_too_large", "body_too_large"),
            (C::BodyRead, 400, INVALID, "body_read_error", "body_read"),
            (C::BodyTimeout, 408, INVALID, "request_timeout", "body_timeout"),
            (C::MissingKey, 401, INVALID, "invalid_api_key", "missing_key"),
            (C::UnknownKey, 401, INVALID, "invalid_api_key", "invalid_key"),
            (C::Forbidden, 403, PERMISSION, "policy_forbidden", "forbidden"),
            (C::BadHeader, 400, INVALID, "invalid_header", "bad_header"),
            (C::UnknownModel, 404, INVALID, "model_not_found", "model_not_found"),
            (C::NoEligibleRoute, 400, INVALID, "no_eligible_route", "no_eligible_route"),
            (C::UpstreamRejected, 400, INVALID, "upstream_rejected", "upstream_rejected"),
            (C::UnsupportedByRoutes, 400, INVALID, "unsupported_by_routes", "unsupported_by_routes"),
            (C::RouteCapacity, 429, RATE, "route_capacity", "route_capacity"),
            (C::FailClosed, 503, UPSTREAM, "fail_closed", "fail_closed"),
            (C::UpstreamFailed, 502, UPSTREAM, "upstream_failed", "upstream_failed"),
            (C::UpstreamTimeout, 504, UPSTREAM, "upstream_timeout", "upstream_failed"),
            (C::UpstreamUnavailable, 503, UPSTREAM, "upstream_unavailable", "upstream_failed"),
            (C::NotFound, 404, INVALID, "unknown_url", "not_found"),
            (C::UntranslatableAnswer, 502, UPSTREAM, "untranslatable_answer", "upstream_failed"),
            (C::Internal, 500, SERVER, "internal_error", "internal"),
            (C::StateUnavailable, 503, SERVER, "state_unavailable", "state_unavailable"),
            (C::TenantLimit, 429, RATE, "tenant_limit", "tenant_limit"),
            (C::BudgetExceeded, 429, RATE, "budget_exceeded", "budget_exceeded"),
            (C::Escalated, 503, "escalation", "human_escalation", "escalated"),
            (C::PrivacyBlocked, 403, PERMISSION, "privacy_blocked", "privacy_blocked"),
            (C::BadIdempotencyKey, 400, INVALID, "invalid_idempotency_key", "bad_idempotency_key"),
            (C::IdempotencyConflict, 422, INVALID, "idempotency_key_reused", "idempotency_conflict"),
            (C::IdempotencyInFlight, 409, INVALID, "idempotency_in_progress", "idempotency_in_flight"),
        ];
        assert_eq!(
            want.map(|w| w.0),
            ErrorCode::ALL,
            "every row is pinned, in order"
        );
        for (code, status, kind, text, label) in want {
            let s = code.spec();
            assert_eq!(
                (s.status.as_u16(), s.kind, s.code, s.label),
                (status, kind, text, label),
                "{code:?}"
            );
        }
    }

    /// The dispatch-stopped reasons keep the labels dashboards and the
    /// runbooks already use (they were the variants' names).
    #[test]
    fn stop_reasons_keep_their_labels() {
        use signalbox_dispatch::StopReason as S;
        let labels = [S::Exhausted, S::RetryBudget, S::Deadline, S::AtMostOnce].map(S::label);
        assert_eq!(
            labels,
            ["Exhausted", "RetryBudget", "Deadline", "AtMostOnce"]
        );
    }

    #[test]
    fn anthropic_types_follow_anthropics_table() {
        for (status, want) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (408, "invalid_request_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (529, "overloaded_error"),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(anthropic_type(status), want, "{status}");
        }
    }
}
