//! A rebuilt runtime keeps what the serving one has counted: a route's rate
//! tokens, requests in flight, the retry budget and the breaker, as long as
//! the route keeps its id and the limit in question.

use std::sync::Arc;

use signalbox_config::{Config, EnvVars, load_str};
use signalbox_core::OutcomeClass;
use signalbox_dispatch::BreakerState;
use tokio::time::Duration;

use super::Runtime;
use crate::SharedBreakers;
use crate::telemetry::Telemetry;

/// Route `a` with the given limits; route `b` with model `b_model`, so a
/// reload can change something else.
fn config(rate: u32, concurrency: u32, budget_ratio: f64, b_model: &str) -> Config {
    let doc = format!(
        r#"
providers:
  - {{ name: p, kind: openai-compatible, base-url: "http://127.0.0.1:9" }}
routes:
  - {{ id: a, provider: p, model: m, region: us, max-requests-per-second: {rate}, max-concurrency: {concurrency} }}
  - {{ id: b, provider: p, model: {b_model}, region: us }}
aliases:
  - {{ name: chat, routes: [a, b] }}
resilience:
  breaker: {{ consecutive-failures: 2, open-for: 30s }}
  retry: {{ budget-ratio: {budget_ratio}, budget-min-retries: 1 }}
"#
    );
    load_str(&doc, "<test>", &EnvVars).unwrap()
}

struct Fixture {
    telemetry: Telemetry,
    shared: SharedBreakers,
}

impl Fixture {
    fn new() -> Self {
        Self {
            telemetry: Telemetry::new().unwrap(),
            shared: SharedBreakers {
                store: Arc::new(signalbox_state::InMemoryBreakers::default()),
                replica: 1,
                actions: Arc::default(),
                quality: Arc::new(signalbox_state::InMemoryQuality::default()),
                events: signalbox_dispatch::BreakerEvents::channel(1).0,
            },
        }
    }

    fn build(&self, config: Config, previous: Option<&Runtime>) -> Runtime {
        Runtime::build(config, &self.telemetry, previous, &self.shared).unwrap()
    }
}

fn rate_tokens(rt: &Runtime) -> usize {
    let gate = rt.routes.iter().next().unwrap().rate.as_ref().unwrap();
    (0..10).filter(|_| gate.try_acquire()).count()
}

#[tokio::test(start_paused = true)]
async fn a_route_that_keeps_its_rate_keeps_its_tokens() {
    let f = Fixture::new();
    let first = f.build(config(5, 4, 0.2, "m"), None);
    assert_eq!(rate_tokens(&first), 5, "one second of burst");
    // Ten reloads that change another route: still no tokens left.
    let mut rt = first;
    for i in 0..10 {
        rt = f.build(config(5, 4, 0.2, &format!("m{i}")), Some(&rt));
        assert_eq!(rate_tokens(&rt), 0, "reload {i} refilled the bucket");
    }
    // A changed limit is a fresh gate at the new rate.
    let changed = f.build(config(3, 4, 0.2, "m"), Some(&rt));
    assert_eq!(rate_tokens(&changed), 3);
}

#[tokio::test(start_paused = true)]
async fn requests_in_flight_still_count_after_a_reload() {
    let f = Fixture::new();
    let first = f.build(config(5, 1, 0.2, "m"), None);
    let gate = first.routes.iter().next().unwrap().gate.as_ref().unwrap();
    let held = gate
        .acquire("t", 1.0, Duration::from_secs(1))
        .await
        .unwrap();
    let second = f.build(config(5, 1, 0.2, "other"), Some(&first));
    let gate = second.routes.iter().next().unwrap().gate.as_ref().unwrap();
    assert_eq!(gate.usage(), (1, 0), "the request in flight carries over");
    assert!(
        gate.acquire("t", 1.0, Duration::from_millis(10))
            .await
            .is_err(),
        "the route is at its limit of one"
    );
    drop(held);
    assert_eq!(gate.usage(), (0, 0));
    // A changed limit starts a fresh gate.
    let third = f.build(config(5, 2, 0.2, "other"), Some(&second));
    assert_eq!(
        third
            .routes
            .iter()
            .next()
            .unwrap()
            .gate
            .as_ref()
            .unwrap()
            .usage(),
        (0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn the_retry_budget_carries_over_unless_its_settings_change() {
    let f = Fixture::new();
    let first = f.build(config(5, 4, 0.2, "m"), None);
    first.retry_budget.note_request();
    assert!(first.retry_budget.try_retry(), "the floor of one retry");
    assert!(!first.retry_budget.try_retry());
    let second = f.build(config(5, 4, 0.2, "other"), Some(&first));
    assert_eq!(second.retry_budget.usage(), (1, 1));
    assert!(
        !second.retry_budget.try_retry(),
        "a reload refilled the budget"
    );
    let third = f.build(config(5, 4, 0.5, "other"), Some(&second));
    assert_eq!(
        third.retry_budget.usage(),
        (0, 0),
        "new settings, new budget"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_stays_open_across_a_reload() {
    let f = Fixture::new();
    let first = f.build(config(5, 4, 0.2, "m"), None);
    for _ in 0..2 {
        first.routes.iter().next().unwrap().health.record(
            OutcomeClass::ServerError,
            Duration::from_millis(5),
            None,
        );
    }
    assert_eq!(
        first.routes.iter().next().unwrap().health.state(),
        BreakerState::Open
    );
    // Even a change to the route itself keeps what was observed.
    let second = f.build(config(7, 4, 0.2, "other"), Some(&first));
    assert_eq!(
        second.routes.iter().next().unwrap().health.state(),
        BreakerState::Open
    );
    assert!(!second.routes.iter().next().unwrap().health.usable());
    assert_eq!(
        second.routes.iter().nth(1).unwrap().health.state(),
        BreakerState::Closed
    );
}
