//! The attempt loop against scripted upstreams under a paused clock: every
//! outcome class, the stream commit point, the stall guards and every bound
//! (attempts, retry budget, deadline, at-most-once), with no sockets.

use std::sync::Arc;

use futures::StreamExt;
use signalbox_config::{RetryPolicy, Timeouts};
use signalbox_core::{ChatRequest, OutcomeClass, SkipKind};
use signalbox_providers::CallContext;
use tokio::time::{Duration, Instant};

use super::*;
use crate::scripted::{COMPLETION, Chunk, ROLE, STOP, Script, Scripted};
use crate::{StreamEnd, StreamOutcome};

mod gates;
mod retries;

/// Routes `r0`, `r1`, … each on its own scripted upstream.
struct Fixture {
    upstreams: Vec<Arc<Scripted>>,
    routes: RouteTable,
    retry: RetryPolicy,
    budget: RetryBudget,
    at_most_once: bool,
    max_attempts: usize,
}

impl Fixture {
    fn new(scripts: Vec<Vec<Script>>) -> Self {
        Self::with(scripts.into_iter().map(Scripted::new).collect())
    }

    fn with(upstreams: Vec<Scripted>) -> Self {
        Self::shaped(upstreams, |_, r| r)
    }

    /// Routes `r0`, `r1`, … on `upstreams`, each passed through `shape`.
    fn shaped(upstreams: Vec<Scripted>, shape: impl Fn(usize, Route) -> Route) -> Self {
        let upstreams: Vec<Arc<Scripted>> = upstreams.into_iter().map(Arc::new).collect();
        let routes = RouteTable::new(
            upstreams
                .iter()
                .enumerate()
                .map(|(i, u)| shape(i, u.route(&format!("r{i}"))))
                .collect(),
        );
        let retry = RetryPolicy::default();
        Self {
            budget: RetryBudget::new(&retry),
            upstreams,
            routes,
            retry,
            at_most_once: false,
            max_attempts: 10,
        }
    }

    fn retry(mut self, f: impl FnOnce(&mut RetryPolicy)) -> Self {
        f(&mut self.retry);
        self.budget = RetryBudget::new(&self.retry);
        self
    }

    fn calls(&self, route: usize) -> usize {
        self.upstreams[route].calls().len()
    }

    async fn run(&self, stream: bool) -> Result<Served, Failure> {
        let candidates: Vec<RouteIdx> = (0..self.routes.len()).map(RouteIdx::new).collect();
        let plan = Plan {
            routes: &self.routes,
            candidates: &candidates,
            max_attempts: self.max_attempts,
            at_most_once: self.at_most_once,
            retry: &self.retry,
            budget: &self.budget,
            seed: 7,
            started: Instant::now(),
            sticky: None,
            tenant: "t",
            intent: "",
            tenant_weight: 1.0,
            queue_timeout: Duration::from_secs(1),
            bodies: &[],
        };
        let body = format!(
            r#"{{"model":"a","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
        );
        let req = ChatRequest::parse(body.as_bytes()).unwrap();
        dispatch(plan, &req, &CallContext::default()).await
    }
}

fn classes(attempts: &[AttemptRecord]) -> Vec<OutcomeClass> {
    attempts.iter().map(|a| a.outcome).collect()
}

fn status(status: u16) -> Script {
    Script::Status {
        status,
        retry_after: None,
    }
}

/// Reads a committed stream to its end.
async fn drain(served: Served) -> (String, StreamEnd) {
    let ServedBody::Stream(stream) = served.body else {
        panic!("expected a stream");
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let stream = stream.on_end(move |end| {
        let _ = tx.send(end);
    });
    let out: Vec<_> = stream.collect().await;
    (crate::stream::tests::as_text(out), rx.await.unwrap())
}

// ---- outcome classes ----

#[tokio::test(start_paused = true)]
async fn a_json_answer_is_served_by_the_first_route() {
    let f = Fixture::new(vec![vec![Script::Json], vec![Script::Json]]);
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 0);
    assert!(!served.fallback);
    assert_eq!(classes(&served.attempts), [OutcomeClass::Success]);
    let ServedBody::Json(json) = served.body else {
        panic!("expected JSON");
    };
    assert_eq!(json.body, COMPLETION.as_bytes());
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn each_failing_class_fails_over_to_the_next_route() {
    let cases = [
        (status(500), OutcomeClass::ServerError),
        (status(503), OutcomeClass::ServerError),
        (status(401), OutcomeClass::AuthRejected),
        (Script::Fail(OutcomeClass::Timeout), OutcomeClass::Timeout),
        (Script::Fail(OutcomeClass::Connect), OutcomeClass::Connect),
        (
            Script::Fail(OutcomeClass::BadResponse),
            OutcomeClass::BadResponse,
        ),
    ];
    for (script, class) in cases {
        let f = Fixture::new(vec![vec![script], vec![Script::Json]]);
        let served = f.run(false).await.unwrap();
        assert_eq!(served.route.get(), 1, "{class:?}");
        assert!(served.fallback, "{class:?}");
        assert_eq!(
            classes(&served.attempts),
            [class, OutcomeClass::Success],
            "{class:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_with_retry_after_moves_on_at_once_and_cools_the_route() {
    let f = Fixture::new(vec![
        vec![Script::Status {
            status: 429,
            retry_after: Some(30),
        }],
        vec![Script::Json],
    ])
    .retry(|r| r.attempts_per_route = 3);
    let t0 = Instant::now();
    let served = f.run(false).await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::ZERO,
        "no backoff after a quota answer"
    );
    assert_eq!(served.route.get(), 1);
    assert_eq!(f.calls(0), 1, "a cooling route is not retried");
    assert_eq!(served.attempts[0].outcome, OutcomeClass::RateLimited);
    assert_eq!(served.attempts[0].retry_after_secs, Some(30));
    assert_eq!(
        f.routes
            .get(RouteIdx::new(0))
            .unwrap()
            .health
            .available_in(),
        Some(Duration::from_secs(30))
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_without_retry_after_moves_on_at_once() {
    let f = Fixture::new(vec![vec![status(429)], vec![Script::Json]])
        .retry(|r| r.attempts_per_route = 3);
    let t0 = Instant::now();
    let served = f.run(false).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(
        classes(&served.attempts),
        [OutcomeClass::RateLimited, OutcomeClass::Success]
    );
    assert_eq!(served.attempts[0].retry_after_secs, None);
    assert_eq!(f.calls(0), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_request_is_passed_on_not_failed_over() {
    let f = Fixture::new(vec![vec![status(400)], vec![Script::Json]]);
    let failure = f.run(false).await.unwrap_err();
    let rejection = failure.rejection.unwrap();
    assert_eq!((rejection.route.get(), rejection.status), (0, 400));
    assert_eq!(classes(&failure.attempts), [OutcomeClass::RequestRejected]);
    assert_eq!(f.calls(1), 0, "another route would repeat the refusal");
}

#[tokio::test(start_paused = true)]
async fn every_route_failing_exhausts_the_loop() {
    let f = Fixture::new(vec![vec![status(500)], vec![status(502)]]);
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::Exhausted);
    assert_eq!(failure.last_route, Some(RouteIdx::new(1)));
    assert!(failure.rejection.is_none());
    assert_eq!(failure.attempts.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_route_that_cannot_carry_the_request_is_skipped() {
    let f = Fixture::with(vec![
        Scripted::new([]).refusing(),
        Scripted::new([Script::Json]),
    ]);
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1);
    assert_eq!(served.skipped[0].kind, SkipKind::CannotCarry);
    assert_eq!(
        served.skipped[0].reason,
        "cannot carry the request: scripted refusal"
    );

    let f = Fixture::with(vec![Scripted::new([]).refusing()]);
    let failure = f.run(false).await.unwrap_err();
    assert!(failure.no_route_can_carry());
}

// ---- the stream commit point ----

#[tokio::test(start_paused = true)]
async fn a_stream_commits_at_its_first_event_and_completes() {
    let f = Fixture::new(vec![vec![Script::Stream(vec![
        Chunk::Data(ROLE),
        Chunk::Wait(Duration::from_millis(50)),
        Chunk::Data(STOP),
    ])]]);
    let served = f.run(true).await.unwrap();
    assert_eq!(served.route.get(), 0);
    let (text, end) = drain(served).await;
    assert_eq!(end.outcome, StreamOutcome::Completed);
    assert_eq!(text, format!("{ROLE}{STOP}"));
}

#[tokio::test(start_paused = true)]
async fn a_failure_before_the_first_event_fails_over() {
    let f = Fixture::new(vec![
        vec![Script::Stream(vec![
            Chunk::Data(": keep-alive\n\n"),
            Chunk::Fail(OutcomeClass::Connect),
        ])],
        vec![Script::Stream(vec![Chunk::Data(ROLE), Chunk::Data(STOP)])],
    ]);
    let served = f.run(true).await.unwrap();
    assert_eq!(served.route.get(), 1, "a comment does not commit");
    assert_eq!(
        classes(&served.attempts),
        [OutcomeClass::Connect, OutcomeClass::Success]
    );
    let (text, _) = drain(served).await;
    assert!(
        !text.contains("keep-alive"),
        "nothing of route 0 reached the caller"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_ending_before_its_first_event_is_a_bad_response() {
    let f = Fixture::new(vec![
        vec![Script::Stream(vec![])],
        vec![Script::Stream(vec![Chunk::Data("data: not json\n\n")])],
        vec![Script::Json],
    ]);
    let failure_then = f.run(true).await.unwrap();
    assert_eq!(
        classes(&failure_then.attempts),
        [
            OutcomeClass::BadResponse,
            OutcomeClass::BadResponse,
            OutcomeClass::Success
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_event_under_200_as_first_event_fails_over() {
    let error = "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";
    let f = Fixture::new(vec![
        vec![Script::Stream(vec![Chunk::Data(error)])],
        vec![Script::Stream(vec![Chunk::Data(ROLE), Chunk::Data(STOP)])],
    ]);
    let served = f.run(true).await.unwrap();
    assert_eq!(served.route.get(), 1);
    assert_eq!(served.attempts[0].outcome, OutcomeClass::ServerError);
    assert!(
        served.attempts[0]
            .detail
            .contains("streamed an error event")
    );
}

#[tokio::test(start_paused = true)]
async fn a_rejection_event_under_200_is_passed_on() {
    let error =
        "data: {\"error\":{\"message\":\"bad field\",\"type\":\"invalid_request_error\"}}\n\n";
    let f = Fixture::new(vec![
        vec![Script::Stream(vec![Chunk::Data(error)])],
        vec![Script::Json],
    ]);
    let failure = f.run(true).await.unwrap_err();
    assert_eq!(failure.rejection.unwrap().status, 400);
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failure_after_the_commit_is_a_cut_not_a_failover() {
    let f = Fixture::new(vec![
        vec![Script::Stream(vec![
            Chunk::Data(ROLE),
            Chunk::Fail(OutcomeClass::Connect),
        ])],
        vec![Script::Json],
    ]);
    let served = f.run(true).await.unwrap();
    assert_eq!(served.route.get(), 0);
    let (text, end) = drain(served).await;
    assert!(matches!(end.outcome, StreamOutcome::Cut { .. }));
    assert!(text.starts_with(ROLE));
    assert!(text.contains("stream_interrupted"), "{text}");
    assert_eq!(f.calls(1), 0, "no splice of another route's output");
}

// ---- stall guards ----

/// With default timeouts, a stream whose head comes at once but whose
/// first event does not is left after the first-token timeout (30 s), not
/// the first-byte one (120 s).
#[tokio::test(start_paused = true)]
async fn a_silent_stream_fails_over_at_the_default_first_token_timeout() {
    let silent = Scripted::new([Script::Stream(vec![Chunk::Stall])]);
    let ok = Scripted::new([Script::Stream(vec![Chunk::Data(ROLE), Chunk::Data(STOP)])]);
    let f = Fixture::with(vec![silent, ok]);
    let t0 = Instant::now();
    let served = f.run(true).await.unwrap();
    assert_eq!(served.route.get(), 1);
    assert_eq!(t0.elapsed(), Timeouts::default().first_token);
    assert_eq!(classes(&served.attempts)[0], OutcomeClass::Timeout);
}

#[tokio::test(start_paused = true)]
async fn no_first_event_by_the_first_byte_deadline_fails_over() {
    let timeouts = Timeouts {
        first_byte: Duration::from_secs(5),
        ..Timeouts::default()
    };
    let silent = Scripted::new([Script::Stream(vec![Chunk::Stall])]).with_timeouts(timeouts);
    let ok = Scripted::new([Script::Stream(vec![Chunk::Data(ROLE), Chunk::Data(STOP)])]);
    let f = Fixture::with(vec![silent, ok]);
    let t0 = Instant::now();
    let served = f.run(true).await.unwrap();
    assert_eq!(served.route.get(), 1);
    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    assert_eq!(served.attempts[0].outcome, OutcomeClass::Timeout);
    assert!(served.attempts[0].detail.contains("first-event"));
}

#[tokio::test(start_paused = true)]
async fn an_idle_stall_after_the_commit_cuts_the_stream() {
    let timeouts = Timeouts {
        idle: Duration::from_secs(10),
        ..Timeouts::default()
    };
    let stalls = Scripted::new([Script::Stream(vec![Chunk::Data(ROLE), Chunk::Stall])])
        .with_timeouts(timeouts);
    let f = Fixture::with(vec![stalls]);
    let served = f.run(true).await.unwrap();
    let t0 = Instant::now();
    let (text, end) = drain(served).await;
    let StreamOutcome::Cut { detail } = end.outcome else {
        panic!("expected a cut: {:?}", end.outcome);
    };
    assert!(detail.contains("stalled"), "{detail}");
    assert!(text.contains("stream_interrupted"));
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    assert_eq!(
        f.routes
            .get(RouteIdx::new(0))
            .unwrap()
            .health
            .consecutive_failures(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_crawling_stream_is_cut_by_the_throughput_guard() {
    let timeouts = Timeouts {
        min_tokens_per_second: Some(5.0),
        throughput_window: Duration::from_secs(2),
        ..Timeouts::default()
    };
    let slow = Scripted::new([Script::Stream(vec![
        Chunk::Data(ROLE),
        Chunk::Wait(Duration::from_secs(1)),
        Chunk::Data(ROLE),
        Chunk::Wait(Duration::from_secs(1)),
        Chunk::Data(ROLE),
        Chunk::Data(STOP),
    ])])
    .with_timeouts(timeouts);
    let f = Fixture::with(vec![slow]);
    let (_, end) = drain(f.run(true).await.unwrap()).await;
    let StreamOutcome::Cut { detail } = end.outcome else {
        panic!("expected a cut: {:?}", end.outcome);
    };
    assert!(detail.contains("too slow"), "{detail}");
}

// ---- bounds ----

#[tokio::test(start_paused = true)]
async fn an_empty_retry_budget_refuses_same_route_retries_not_failover() {
    let empty = |r: &mut RetryPolicy| {
        r.budget_ratio = 0.0;
        r.budget_min_retries = 0;
        r.attempts_per_route = 3;
    };
    let f = Fixture::new(vec![vec![status(500), Script::Json], vec![Script::Json]]).retry(empty);
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1, "an untried route is not a retry");
    assert_eq!(f.calls(0), 1, "the same-route retry was refused");
    // With nowhere else to go, the budget is why the request failed.
    let f = Fixture::new(vec![vec![status(500), Script::Json]]).retry(empty);
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::RetryBudget);
    assert_eq!(failure.attempts.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_stops_further_attempts() {
    let f = Fixture::new(vec![
        vec![Script::After(Duration::from_secs(3), Box::new(status(500)))],
        vec![Script::Json],
    ])
    .retry(|r| r.deadline = Duration::from_secs(2));
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::Deadline);
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn a_backoff_that_would_pass_the_deadline_stops() {
    let f = Fixture::new(vec![vec![Script::Status {
        status: 503,
        retry_after: Some(2),
    }]])
    .retry(|r| {
        r.attempts_per_route = 2;
        r.backoff_max = Duration::from_secs(5);
        r.deadline = Duration::from_secs(1);
    });
    let t0 = Instant::now();
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::Deadline);
    assert_eq!(t0.elapsed(), Duration::ZERO, "no sleep that cannot pay off");
}

#[tokio::test(start_paused = true)]
async fn at_most_once_stops_after_a_failure_that_may_have_reached_the_provider() {
    let mut f = Fixture::new(vec![
        vec![Script::Fail(OutcomeClass::Timeout)],
        vec![Script::Json],
    ]);
    f.at_most_once = true;
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::AtMostOnce);
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn at_most_once_still_fails_over_a_connect_error() {
    let mut f = Fixture::new(vec![
        vec![Script::Fail(OutcomeClass::Connect)],
        vec![Script::Json],
    ]);
    f.at_most_once = true;
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1);
}

/// A 429 means the provider did nothing: an at-most-once request may still
/// be served by the next route (the chaos quota scenarios found it answered
/// 503 instead).
#[tokio::test(start_paused = true)]
async fn at_most_once_fails_over_a_rate_limit_but_not_a_server_error() {
    let mut f = Fixture::new(vec![vec![status(429)], vec![Script::Json]]);
    f.at_most_once = true;
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 1);

    let mut f = Fixture::new(vec![vec![status(500)], vec![Script::Json]]);
    f.at_most_once = true;
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::AtMostOnce);
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_bounds_the_loop() {
    let mut f = Fixture::new(vec![vec![status(500)], vec![Script::Json]]);
    f.max_attempts = 1;
    let failure = f.run(false).await.unwrap_err();
    assert_eq!(failure.stop, StopReason::Exhausted);
    assert_eq!(failure.attempts.len(), 1);
    assert_eq!(f.calls(1), 0);
}

#[tokio::test(start_paused = true)]
async fn same_route_retries_follow_the_jittered_backoff_sequence() {
    let f = Fixture::new(vec![vec![status(500), status(500), Script::Json]]).retry(|r| {
        r.attempts_per_route = 3;
        r.backoff_base = Duration::from_millis(100);
        r.backoff_max = Duration::from_secs(2);
    });
    let served = f.run(false).await.unwrap();
    assert_eq!(served.route.get(), 0);
    let calls = f.upstreams[0].calls();
    assert_eq!(calls.len(), 3);
    for (n, pair) in calls.windows(2).enumerate() {
        let n = u32::try_from(n).unwrap() + 1;
        let expected = backoff(&f.retry, 7, n, None).unwrap();
        // The paused clock's timer wakes on the next whole millisecond.
        let gap = pair[1] - pair[0];
        assert!(
            gap >= expected && gap - expected < Duration::from_millis(1),
            "retry {n}: {gap:?} vs {expected:?}"
        );
        assert!(expected <= Duration::from_millis(100) * (1 << (n - 1)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_within_backoff_max_is_waited_and_a_longer_one_moves_on() {
    let f = Fixture::new(vec![vec![
        Script::Status {
            status: 503,
            retry_after: Some(1),
        },
        Script::Json,
    ]])
    .retry(|r| r.attempts_per_route = 2);
    f.run(false).await.unwrap();
    let calls = f.upstreams[0].calls();
    assert_eq!(calls[1] - calls[0], Duration::from_secs(1));

    let f = Fixture::new(vec![
        vec![Script::Status {
            status: 503,
            retry_after: Some(60),
        }],
        vec![Script::Json],
    ])
    .retry(|r| r.attempts_per_route = 2);
    let t0 = Instant::now();
    let served = f.run(false).await.unwrap();
    assert_eq!((served.route.get(), f.calls(0)), (1, 1));
    assert_eq!(t0.elapsed(), Duration::ZERO);
}
