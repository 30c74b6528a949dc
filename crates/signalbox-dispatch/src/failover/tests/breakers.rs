//! Route health across requests, under a paused clock (these ran over
//! sockets with wall-clock sleeps past the open period in the gateway's
//! `it/breakers.rs`; the assertions are the same): half-open recovery, a
//! failed trial, a quota cooldown, and session stickiness across a route
//! failure.

use std::collections::{HashMap, HashSet};

use http::{HeaderMap, HeaderValue};
use tokio::time::Duration;

use super::{World, chat};
use crate::scripted::Script;

const BREAKERS: &str = r#"
resilience:
  breaker:
    consecutive-failures: 3
    min-requests: 4
    open-for: 1s
    slow-start: 0s
providers:
  - { name: primary, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
  - { name: secondary, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
  - { name: tertiary, kind: openai-compatible, base-url: "http://127.0.0.1:9/v1" }
routes:
  - { id: primary, provider: primary, model: m, region: us, breaker: { latency-slo: 10s } }
  - { id: secondary, provider: secondary, model: m, region: us }
  - { id: tertiary, provider: tertiary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary, secondary] }
  - { name: spread, routes: [primary, secondary, tertiary] }
policy:
  rules:
    - name: spread-evenly
      when: { aliases: [spread] }
      objectives: { weights: { preference: 0, cost: 1 } }
"#;

/// Every route up; the tests break and heal them.
fn world() -> World {
    let w = World::with_config(BREAKERS, &[]);
    for u in w.upstreams.values() {
        u.always(Script::Json);
    }
    w
}

fn failing(status: u16) -> Script {
    Script::Status {
        status,
        retry_after: None,
    }
}

/// Past the 1 s open period (or reset), on the paused clock.
async fn past_the_open_period() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

async fn served_by(w: &World, alias: &str) -> String {
    let out = w.run(chat(alias)).await;
    w.served(&out).to_string()
}

#[tokio::test(start_paused = true)]
async fn open_circuit_recovers_through_a_half_open_trial() {
    let w = world();
    w.upstreams["primary"].always(failing(500));
    for _ in 0..6 {
        assert_eq!(served_by(&w, "chat").await, "secondary");
    }
    assert_eq!(w.calls("primary"), 3, "breaker opened after 3");
    w.upstreams["primary"].always(Script::Json);
    past_the_open_period().await;
    // The open period is over: the next request is the trial, and it closes the circuit.
    let out = w.run(chat("chat")).await;
    assert_eq!(w.served(&out), "primary");
    assert!(out.degraded.is_empty());
    for _ in 0..3 {
        assert_eq!(served_by(&w, "chat").await, "primary");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_reopens_the_circuit() {
    let w = world();
    w.upstreams["primary"].always(failing(503));
    for _ in 0..3 {
        served_by(&w, "chat").await;
    }
    past_the_open_period().await;
    assert_eq!(served_by(&w, "chat").await, "secondary", "trial fails");
    assert_eq!(w.calls("primary"), 4);
    assert_eq!(served_by(&w, "chat").await, "secondary", "still open");
    assert_eq!(w.calls("primary"), 4);
}

#[tokio::test(start_paused = true)]
async fn a_quota_429_cools_the_route_down_until_its_reset_then_it_returns() {
    let w = world();
    w.upstreams["primary"].always(Script::Status {
        status: 429,
        retry_after: Some(1),
    });
    assert_eq!(served_by(&w, "chat").await, "secondary", "limited");
    w.upstreams["primary"].always(Script::Json);
    // Cooling down: not even tried, and not counted as an error.
    assert_eq!(served_by(&w, "chat").await, "secondary", "cooling");
    assert_eq!(w.calls("primary"), 1);
    past_the_open_period().await;
    assert_eq!(served_by(&w, "chat").await, "primary", "reset");
}

/// The route that serves `session`'s next turn.
async fn turn(w: &World, session: &str) -> String {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-signalbox-session",
        HeaderValue::from_str(session).unwrap(),
    );
    let out = w.run_with(chat("spread"), &headers).await;
    w.served(&out).to_string()
}

#[tokio::test(start_paused = true)]
async fn sessions_stick_to_one_route_spread_across_routes_and_move_once() {
    let w = world();
    let mut first_route = HashMap::new();
    for s in 0..30 {
        let session = format!("session-{s}");
        for _ in 0..3 {
            let route = turn(&w, &session).await;
            let first = first_route
                .entry(session.clone())
                .or_insert_with(|| route.clone());
            assert_eq!(*first, route, "{session} moved without a failure");
        }
    }
    let used: HashSet<&String> = first_route.values().collect();
    assert!(used.len() >= 2, "rendezvous spread sessions over {used:?}");

    // Break the primary: its sessions move once, and stay moved after it heals.
    w.upstreams["primary"].always(failing(503));
    let on_primary: Vec<String> = first_route
        .iter()
        .filter(|(_, r)| r.as_str() == "primary")
        .map(|(s, _)| s.clone())
        .collect();
    assert!(
        !on_primary.is_empty(),
        "some sessions started on the primary"
    );
    let mut moved_to = HashMap::new();
    for session in &on_primary {
        let route = turn(&w, session).await;
        assert_ne!(route, "primary");
        moved_to.insert(session.clone(), route);
    }
    w.upstreams["primary"].always(Script::Json);
    // Past the open period: the primary is usable again.
    past_the_open_period().await;
    for (session, route) in &moved_to {
        assert_eq!(&turn(&w, session).await, route, "{session} moved back");
    }
    // Sessions that never were on the primary never moved.
    for (session, route) in first_route.iter().filter(|(_, r)| r.as_str() != "primary") {
        assert_eq!(&turn(&w, session).await, route);
    }
}
