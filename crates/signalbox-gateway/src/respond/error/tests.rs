use std::time::Duration;

use signalbox_core::{ProviderName, RouteId};
use signalbox_dispatch::Rejection;

use super::*;

fn attempt(outcome: OutcomeClass, retry_after_secs: Option<u64>) -> AttemptRecord {
    AttemptRecord {
        route: RouteId::new("r"),
        provider: ProviderName::new("p"),
        outcome,
        status: None,
        elapsed: Duration::from_millis(3),
        detail: "x".into(),
        retry_after_secs,
        provider_error: None,
    }
}

fn failed(outcomes: &[OutcomeClass]) -> ApiError {
    ApiError::Upstream {
        failure: Failure {
            attempts: outcomes.iter().map(|o| attempt(*o, None)).collect(),
            rejection: None,
            last_route: Some(signalbox_core::RouteIdx::new(0)),
            skipped: Vec::new(),
            stop: signalbox_dispatch::StopReason::Exhausted,
            capacity_refused: false,
            available_in: None,
        },
        excluded: Vec::new(),
        fail_closed: None,
    }
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
    let e = ApiError::Upstream {
        failure: Failure {
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
        },
        excluded: Vec::new(),
        fail_closed: None,
    };
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
