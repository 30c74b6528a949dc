//! What a failure earns, per outcome class: same-route retries granted by
//! `retry-on` (a short rate-limit wait waited out, silence never retried
//! by default), and a context overflow's move to a larger window only.

use signalbox_config::{RetryClass, RetryOn};
use signalbox_core::{OutcomeClass, SkipKind};
use tokio::time::{Duration, Instant};

use super::*;
use crate::scripted::{Script, Scripted};

#[tokio::test(start_paused = true)]
async fn a_short_rate_limit_wait_is_waited_out_on_the_same_route() {
    let f = Fixture::new(vec![
        vec![
            Script::Status {
                status: 429,
                retry_after: Some(1),
            },
            Script::Json,
        ],
        vec![Script::Json],
    ])
    .retry(|r| r.attempts_per_route = 2);
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 0, "the cooled-down route served");
    let calls = f.upstreams[0].calls();
    assert_eq!(calls[1] - calls[0], Duration::from_secs(1));
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn retry_on_without_rate_limited_moves_on_from_a_short_wait() {
    let f = Fixture::new(vec![
        vec![Script::Status {
            status: 429,
            retry_after: Some(1),
        }],
        vec![Script::Json],
    ])
    .retry(|r| {
        r.attempts_per_route = 2;
        r.retry_on = RetryOn::of(&[RetryClass::ServerError]);
    });
    let t0 = Instant::now();
    let served = f.run(false).await.unwrap();
    assert_eq!((served.route.get(), f.calls(0)), (1, 1));
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_moves_to_the_next_route_despite_same_route_retries() {
    let f = Fixture::new(vec![
        vec![Script::Fail(OutcomeClass::Timeout), Script::Json],
        vec![Script::Json],
    ])
    .retry(|r| r.attempts_per_route = 3);
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1, "silence is not retried by default");
    assert_eq!(f.calls(0), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_on_grants_same_route_retries_per_class() {
    let timeout_ok = RetryOn::of(&[RetryClass::Timeout]);
    let f = Fixture::new(vec![
        vec![Script::Fail(OutcomeClass::Timeout), Script::Json],
        vec![Script::Json],
    ])
    .retry(|r| {
        r.attempts_per_route = 2;
        r.retry_on = timeout_ok;
    });
    assert_eq!(f.run(false).await.unwrap().route.get(), 0);
    // …and a class left out moves on: a 500 with only `timeout` granted.
    let f = Fixture::new(vec![vec![status(500), Script::Json], vec![Script::Json]]).retry(|r| {
        r.attempts_per_route = 2;
        r.retry_on = timeout_ok;
    });
    assert_eq!(f.run(false).await.unwrap().route.get(), 1);
    assert_eq!(f.calls(0), 1);
}

const OVERFLOW: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#;

/// Routes on `upstreams` with these context windows.
fn windowed(upstreams: Vec<Scripted>, windows: &'static [u32]) -> Fixture {
    Fixture::shaped(upstreams, |i, mut r| {
        r.settings.context_window = windows.get(i).copied();
        r
    })
}

#[tokio::test(start_paused = true)]
async fn a_context_overflow_moves_to_a_larger_window_only() {
    let f = windowed(
        vec![
            Scripted::new([Script::Error(400, OVERFLOW)]),
            Scripted::new([Script::Json]),
            Scripted::new([Script::Json]),
        ],
        &[8192, 8192, 131_072],
    );
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 2, "the larger window served");
    assert_eq!(f.calls(0), 1, "never resent to the model that overflowed");
    assert_eq!(f.calls(1), 0, "an equal window is not tried");
    let skip = served.skipped.iter().find(|s| s.route == "r1").unwrap();
    assert_eq!(skip.kind, SkipKind::ContextWindow);
    assert_eq!(
        classes(&served.attempts),
        [OutcomeClass::RequestRejected, OutcomeClass::Success]
    );
}

#[tokio::test(start_paused = true)]
async fn a_move_to_fit_spends_no_retry_budget_and_keeps_at_most_once() {
    let mut f = windowed(
        vec![
            Scripted::new([Script::Error(400, OVERFLOW)]),
            Scripted::new([Script::Json]),
        ],
        &[8192, 131_072],
    )
    .retry(|r| {
        r.budget_ratio = 0.0;
        r.budget_min_retries = 0;
    });
    f.at_most_once = true;
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1, "the overflow refused before acting");
}

#[tokio::test(start_paused = true)]
async fn a_context_overflow_with_no_larger_window_returns_the_providers_rejection() {
    let f = windowed(
        vec![
            Scripted::new([Script::Error(400, OVERFLOW)]),
            Scripted::new([Script::Json]),
        ],
        &[8192, 4096],
    );
    let failure = f.run(false).await.unwrap_err();
    let rejection = failure.rejection.expect("the overflow is the answer");
    assert_eq!(rejection.status, 400);
    assert_eq!(
        rejection.provider_error.and_then(|p| p.code).as_deref(),
        Some("context_length_exceeded")
    );
    assert_eq!(f.calls(1), 0);
    // Any other rejection still stops at once.
    let f = windowed(
        vec![
            Scripted::new([Script::Error(400, r#"{"error":{"message":"bad tool"}}"#)]),
            Scripted::new([Script::Json]),
        ],
        &[8192, 131_072],
    );
    assert!(f.run(false).await.unwrap_err().rejection.is_some());
    assert_eq!(f.calls(1), 0);
}
