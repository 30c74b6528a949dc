use std::time::Duration;

use signalbox_core::{ProviderName, RouteId, SkipKind};
use signalbox_dispatch::Rejection;

use super::*;
use crate::respond::ErrorCode;

fn attempt(outcome: OutcomeClass, retry_after_secs: Option<u64>) -> AttemptRecord {
    AttemptRecord {
        route: RouteId::new("r"),
        provider: ProviderName::new("p"),
        outcome,
        status: None,
        elapsed: Duration::from_millis(3),
        sent_after: Duration::ZERO,
        detail: "x".into(),
        retry_after_secs,
        provider_error: None,
    }
}

fn failed(outcomes: &[OutcomeClass]) -> ApiError {
    ApiError::upstream(
        Failure {
            attempts: outcomes.iter().map(|o| attempt(*o, None)).collect(),
            rejection: None,
            last_route: Some(signalbox_core::RouteIdx::new(0)),
            skipped: Vec::new(),
            stop: signalbox_dispatch::StopReason::Exhausted,
            capacity_refused: false,
            available_in: None,
            reordered: None,
        },
        Vec::new(),
        None,
    )
}

#[test]
fn status_reflects_the_most_relevant_cause() {
    use OutcomeClass::*;
    assert_eq!(
        failed(&[Connect, ServerError]).status(),
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        failed(&[Timeout, Connect]).status(),
        StatusCode::GATEWAY_TIMEOUT
    );
    assert_eq!(
        failed(&[Connect, RateLimited]).status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        failed(&[Timeout, BadResponse]).status(),
        StatusCode::BAD_GATEWAY
    );
}

#[test]
fn rejections_pass_the_client_status_through() {
    let e = ApiError::upstream(
        Failure {
            attempts: vec![attempt(OutcomeClass::RequestRejected, None)],
            rejection: Some(Rejection {
                route: signalbox_core::RouteIdx::new(0),
                status: 422,
                detail: "bad".into(),
                provider_error: None,
            }),
            last_route: Some(signalbox_core::RouteIdx::new(0)),
            skipped: Vec::new(),
            stop: signalbox_dispatch::StopReason::Exhausted,
            capacity_refused: false,
            available_in: None,
            reordered: None,
        },
        Vec::new(),
        None,
    );
    assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e.metric_label(), "upstream_rejected");
}

#[test]
fn rate_limited_failures_carry_retry_after() {
    let all = vec![
        attempt(OutcomeClass::RateLimited, Some(9)),
        attempt(OutcomeClass::RateLimited, Some(4)),
    ];
    assert_eq!(all_rate_limited_retry_after(&all), Some(4));
    let mixed = vec![
        attempt(OutcomeClass::RateLimited, Some(9)),
        attempt(OutcomeClass::Connect, None),
    ];
    assert_eq!(all_rate_limited_retry_after(&mixed), None);
}

#[test]
fn error_body_has_the_openai_shape() {
    let e = ApiError::Policy(PolicyError::UnknownModel {
        model: "gpt-9".into(),
        known: "chat".into(),
    });
    let resp = e.into_response("req-1");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

/// (status, error type, error code, metric label) as the caller and the
/// metrics see them.
type Seen = (u16, &'static str, &'static str, &'static str);

fn triple(e: &ApiError) -> Seen {
    let spec = e.code().spec();
    (e.status().as_u16(), spec.kind, spec.code, e.metric_label())
}

fn upstream(
    outcomes: &[OutcomeClass],
    rejection: Option<u16>,
    skipped: &[SkipKind],
    capacity_refused: bool,
    fail_closed: bool,
) -> ApiError {
    ApiError::upstream(
        Failure {
            attempts: outcomes.iter().map(|o| attempt(*o, None)).collect(),
            rejection: rejection.map(|status| Rejection {
                route: signalbox_core::RouteIdx::new(0),
                status,
                detail: "no".into(),
                provider_error: None,
            }),
            last_route: None,
            skipped: skipped
                .iter()
                .map(|k| signalbox_core::SkipRecord::new("r", *k, "why"))
                .collect(),
            stop: signalbox_dispatch::StopReason::Exhausted,
            capacity_refused,
            available_in: None,
            reordered: None,
        },
        Vec::new(),
        fail_closed.then_some(NoFallback::FailClosedFlow),
    )
}

/// Every way the API answers with an error, pinned: a refactor of the
/// mapping must not move a status, a code or a metric label.
#[test]
fn every_error_keeps_its_status_type_code_and_label() {
    use OutcomeClass::*;
    use SkipKind::*;
    let invalid = RequestError::Syntax("x".into());
    let cases: Vec<(ApiError, Seen)> = vec![
        (
            ApiError::InvalidRequest(invalid),
            (
                400,
                "invalid_request_error",
                "invalid_request",
                "invalid_request",
            ),
        ),
        (
            ApiError::BodyTooLarge { limit: 1 },
            (
                413,
                "invalid_request_error",
                "request_too_large",
                "body_too_large",
            ),
        ),
        (
            ApiError::BodyRead("x".into()),
            (400, "invalid_request_error", "body_read_error", "body_read"),
        ),
        (
            ApiError::BodyTimeout {
                after: Duration::from_secs(1),
            },
            (
                408,
                "invalid_request_error",
                "request_timeout",
                "body_timeout",
            ),
        ),
        (
            ApiError::Policy(PolicyError::MissingKey),
            (
                401,
                "invalid_request_error",
                "invalid_api_key",
                "missing_key",
            ),
        ),
        (
            ApiError::Policy(PolicyError::UnknownKey),
            (
                401,
                "invalid_request_error",
                "invalid_api_key",
                "invalid_key",
            ),
        ),
        (
            ApiError::Policy(PolicyError::Forbidden("x".into())),
            (403, "permission_error", "policy_forbidden", "forbidden"),
        ),
        (
            ApiError::Policy(PolicyError::BadHeader {
                header: "x-signalbox-tier",
                problem: "x".into(),
            }),
            (400, "invalid_request_error", "invalid_header", "bad_header"),
        ),
        (
            ApiError::Policy(PolicyError::UnknownModel {
                model: "m".into(),
                known: "chat".into(),
            }),
            (
                404,
                "invalid_request_error",
                "model_not_found",
                "model_not_found",
            ),
        ),
        (
            ApiError::Policy(PolicyError::NoEligibleRoute {
                alias: "chat".into(),
                reasons: "x".into(),
            }),
            (
                400,
                "invalid_request_error",
                "no_eligible_route",
                "no_eligible_route",
            ),
        ),
        (
            upstream(&[RequestRejected], Some(422), &[], false, false),
            (
                422,
                "invalid_request_error",
                "upstream_rejected",
                "upstream_rejected",
            ),
        ),
        // A rejection with a status that is not a 4xx is answered 400.
        (
            upstream(&[RequestRejected], Some(200), &[], false, false),
            (
                400,
                "invalid_request_error",
                "upstream_rejected",
                "upstream_rejected",
            ),
        ),
        // A fail-closed flow still passes a rejection through.
        (
            upstream(&[RequestRejected], Some(413), &[], false, true),
            (
                413,
                "invalid_request_error",
                "upstream_rejected",
                "upstream_rejected",
            ),
        ),
        (
            upstream(&[], None, &[CannotCarry, CannotCarry], false, false),
            (
                400,
                "invalid_request_error",
                "unsupported_by_routes",
                "unsupported_by_routes",
            ),
        ),
        (
            upstream(&[], None, &[CannotCarry], false, true),
            (
                400,
                "invalid_request_error",
                "unsupported_by_routes",
                "unsupported_by_routes",
            ),
        ),
        (
            upstream(&[], None, &[AtCapacity], true, false),
            (429, "rate_limit_error", "route_capacity", "route_capacity"),
        ),
        (
            upstream(&[], None, &[CannotCarry, AtCapacity], true, true),
            (429, "rate_limit_error", "route_capacity", "route_capacity"),
        ),
        (
            upstream(&[ServerError], None, &[], false, true),
            (503, "upstream_error", "fail_closed", "fail_closed"),
        ),
        (
            upstream(&[], None, &[CircuitOpen], false, true),
            (503, "upstream_error", "fail_closed", "fail_closed"),
        ),
        (
            upstream(&[Connect, ServerError], None, &[], false, false),
            (502, "upstream_error", "upstream_failed", "upstream_failed"),
        ),
        (
            upstream(&[Connect, StreamCut], None, &[], false, false),
            (502, "upstream_error", "upstream_failed", "upstream_failed"),
        ),
        (
            upstream(&[Timeout, Connect], None, &[], false, false),
            (504, "upstream_error", "upstream_timeout", "upstream_failed"),
        ),
        (
            upstream(&[Connect, RateLimited], None, &[], false, false),
            (
                503,
                "upstream_error",
                "upstream_unavailable",
                "upstream_failed",
            ),
        ),
        // A route that could have served was busy: 503, whatever came before.
        (
            upstream(&[ServerError], None, &[AtCapacity], true, false),
            (
                503,
                "upstream_error",
                "upstream_unavailable",
                "upstream_failed",
            ),
        ),
        (
            upstream(&[], None, &[CircuitOpen, CannotCarry], false, false),
            (
                503,
                "upstream_error",
                "upstream_unavailable",
                "upstream_failed",
            ),
        ),
        (
            upstream(&[], None, &[], false, false),
            (
                503,
                "upstream_error",
                "upstream_unavailable",
                "upstream_failed",
            ),
        ),
        (
            ApiError::NotFound {
                method: "GET".into(),
                path: "/x".into(),
            },
            (404, "invalid_request_error", "unknown_url", "not_found"),
        ),
        (
            ApiError::UntranslatableAnswer("x".into()),
            (
                502,
                "upstream_error",
                "untranslatable_answer",
                "upstream_failed",
            ),
        ),
        (
            ApiError::Internal("x".into()),
            (500, "server_error", "internal_error", "internal"),
        ),
        (
            ApiError::StateUnavailable("x".into()),
            (
                503,
                "server_error",
                "state_unavailable",
                "state_unavailable",
            ),
        ),
        (
            ApiError::TenantLimit {
                limit: "concurrency",
                value: 1,
                retry_after_secs: 1,
            },
            (429, "rate_limit_error", "tenant_limit", "tenant_limit"),
        ),
        (
            ApiError::BudgetExceeded {
                budget_usd: 1.0,
                spent_usd: 1.0,
                resets_at: "2027-01-01T00:00:00Z".into(),
                retry_after_secs: 1,
            },
            (
                429,
                "rate_limit_error",
                "budget_exceeded",
                "budget_exceeded",
            ),
        ),
        (
            ApiError::Escalated {
                reason: "x".into(),
                webhook: Webhook::Sent,
            },
            (503, "escalation", "human_escalation", "escalated"),
        ),
        (
            ApiError::PrivacyBlocked {
                zone: "eu".into(),
                classes: vec!["email".into()],
            },
            (
                403,
                "permission_error",
                "privacy_blocked",
                "privacy_blocked",
            ),
        ),
        (
            ApiError::BadIdempotencyKey,
            (
                400,
                "invalid_request_error",
                "invalid_idempotency_key",
                "bad_idempotency_key",
            ),
        ),
        (
            ApiError::IdempotencyConflict,
            (
                422,
                "invalid_request_error",
                "idempotency_key_reused",
                "idempotency_conflict",
            ),
        ),
        (
            ApiError::IdempotencyInFlight,
            (
                409,
                "invalid_request_error",
                "idempotency_in_progress",
                "idempotency_in_flight",
            ),
        ),
    ];
    for (e, want) in &cases {
        assert_eq!(triple(e), *want, "{e:?}");
        if let ApiError::Policy(p) = e {
            assert_eq!(e.metric_label(), p.label(), "the policy's own label");
        }
    }
    let seen: Vec<ErrorCode> = cases.iter().map(|(e, _)| e.code()).collect();
    for code in ErrorCode::ALL {
        assert!(seen.contains(&code), "{code:?} is reached by some error");
    }
}
