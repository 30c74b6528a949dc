//! Route health under injected faults, over sockets: slow-but-up routes,
//! the retry budget in a total outage, stalled and crawling streams, active
//! probes and circuits shared between replicas. Half-open recovery, a
//! failed trial, quota cooldowns and session stickiness across a failure
//! are timed by the open period, so they run in signalbox-dispatch under a
//! paused clock (`failover/tests/breakers.rs`) instead of sleeping here.

use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body};
use tokio::time::Duration;

use crate::header;

const BREAKERS: &str = r#"
resilience:
  health-check: { mode: off }
  breaker:
    consecutive-failures: ${TRIP:-3}
    min-requests: ${MIN_REQUESTS:-4}
    open-for: 1s
    slow-start: 0s
  retry:
    budget-ratio: ${BUDGET_RATIO:-0.2}
    budget-min-retries: ${BUDGET_MIN:-10}
providers:
  - name: primary
    kind: openai-compatible
    base-url: ${PRIMARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
  - name: secondary
    kind: openai-compatible
    base-url: ${SECONDARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
  - name: tertiary
    kind: openai-compatible
    base-url: ${TERTIARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
routes:
  - id: primary
    provider: primary
    model: m
    region: us
    breaker:
      latency-slo: ${PRIMARY_SLO:-10s}
  - { id: secondary, provider: secondary, model: m, region: us }
  - { id: tertiary, provider: tertiary, model: m, region: us }
aliases:
  - name: chat
    routes: [primary, secondary]
  - name: spread
    routes: [primary, secondary, tertiary]
policy:
  rules:
    - name: spread-evenly
      when: { aliases: [spread] }
      objectives: { weights: { preference: 0, cost: 1 } }
"#;

async fn harness(vars: &[(&str, &str)]) -> Harness {
    let vars: Vec<(&str, String)> = vars.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
    Harness::start(BREAKERS, &["primary", "secondary", "tertiary"], &vars).await
}

fn failing(status: u16) -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: status,
        ..Faults::default()
    }
}

async fn served_by(h: &Harness, text: &str) -> String {
    let resp = h.chat(&chat_body("chat", text)).await;
    assert_eq!(resp.status(), 200, "{text}");
    header(&resp, "x-signalbox-route").to_string()
}

#[tokio::test]
async fn slow_but_up_primary_loses_its_traffic_within_the_window() {
    let h = harness(&[("PRIMARY_SLO", "100ms")]).await;
    h.mock("primary").set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    // min-requests samples establish the p95; then the slow route ranks last.
    for i in 0..4 {
        assert_eq!(served_by(&h, &format!("slow {i}")).await, "primary");
    }
    for i in 0..5 {
        let resp = h.chat(&chat_body("chat", &format!("moved {i}"))).await;
        assert_eq!(header(&resp, "x-signalbox-route"), "secondary");
        assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    }
    assert_eq!(h.mock("primary").stats().requests, 4);
    h.stop().await;
}

#[tokio::test]
async fn the_retry_budget_caps_upstream_calls_in_a_total_outage() {
    // Breakers that never trip, so only the budget limits retries.
    let h = harness(&[
        ("BUDGET_RATIO", "0.1"),
        ("BUDGET_MIN", "2"),
        ("TRIP", "1000"),
        ("MIN_REQUESTS", "1000"),
    ])
    .await;
    h.mock("primary").set_faults(failing(503));
    h.mock("secondary").set_faults(failing(503));
    let mut budget_messages = 0;
    for i in 0..20 {
        let resp = h.chat(&chat_body("chat", &format!("outage {i}"))).await;
        assert_eq!(resp.status(), 502);
        let body: serde_json::Value = resp.json().await.unwrap();
        if body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retry budget exhausted")
        {
            budget_messages += 1;
        }
    }
    let primary = h.mock("primary").stats().requests;
    let secondary = h.mock("secondary").stats().requests;
    // The secondary would get 20 retries without a budget. It gets one
    // free failover while its last outcome is not a failure, then
    // max(2, 10% of 20) paid by the budget.
    assert!(
        primary + secondary <= 23,
        "{primary} + {secondary} upstream calls"
    );
    assert!(secondary <= 3, "secondary got {secondary} retries");
    assert!(
        budget_messages >= 17,
        "{budget_messages} refusals named the budget"
    );
    h.stop().await;
}

const STALLS: &str = r#"
resilience:
  breaker: { consecutive-failures: 2 }
  health-check: { mode: off }
providers:
  - name: primary
    kind: openai-compatible
    base-url: ${PRIMARY_URL}
    timeouts:
      first-byte: 2s
      idle: 300ms
      min-tokens-per-second: ${MIN_RATE:-0.001}
      throughput-window: 400ms
routes:
  - { id: primary, provider: primary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary] }
"#;

async fn stalled_stream_text(min_rate: &str, faults: Faults) -> (String, Harness) {
    let h = Harness::start(STALLS, &["primary"], &[("MIN_RATE", min_rate.to_string())]).await;
    h.mock("primary").set_faults(faults);
    let text = h
        .chat(&signalbox_testkit::stream_body(
            "chat",
            "one two three four five six",
        ))
        .await
        .text()
        .await
        .unwrap();
    (text, h)
}

#[tokio::test]
async fn a_silent_stream_ends_with_an_explicit_stall_error_and_counts_against_the_route() {
    let (text, h) = stalled_stream_text(
        "0.001",
        Faults {
            stream_chunks: Some(6),
            chunk_delay_ms: Some(1000),
            ..Faults::default()
        },
    )
    .await;
    assert!(text.contains("stream stalled: no data for 0.3s"), "{text}");
    assert!(text.contains("\"request_id\""), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    let text2 = stream_text(&h).await;
    assert!(text2.contains("stream stalled"), "{text2}");
    // Two stalls in a row opened the circuit.
    let resp = h.chat(&chat_body("chat", "after")).await;
    assert_eq!(resp.status(), 503);
    h.stop().await;
}

async fn stream_text(h: &Harness) -> String {
    h.chat(&signalbox_testkit::stream_body(
        "chat",
        "one two three four five six",
    ))
    .await
    .text()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_crawling_stream_is_cut_below_the_minimum_throughput() {
    let (text, h) = stalled_stream_text(
        "50",
        Faults {
            stream_chunks: Some(20),
            chunk_delay_ms: Some(100),
            ..Faults::default()
        },
    )
    .await;
    assert!(text.contains("stream too slow"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    h.stop().await;
}

const PROBED: &str = r#"
resilience:
  breaker: { consecutive-failures: 2 }
  health-check: { mode: always, interval: 1s, timeout: 2s, expect: "${EXPECT}" }
admin:
  token: { env: ADMIN_TOKEN }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
routes:
  - { id: primary, provider: primary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary] }
"#;

async fn route_health(h: &Harness) -> serde_json::Value {
    let v: serde_json::Value = reqwest::Client::new()
        .get(h.url("/admin/routes"))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["routes"][0]["health"].clone()
}

#[tokio::test]
async fn probes_check_answer_quality_and_open_a_route_that_answers_wrongly() {
    // The mock echoes the prompt: "OK" matches, "banana" never does.
    let good = Harness::start(
        PROBED,
        &["primary"],
        &[
            ("EXPECT", "(?i)\\bok\\b".into()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
    )
    .await;
    let mut ok = false;
    for _ in 0..50 {
        let health = route_health(&good).await;
        if health["last_probe"]["ok"] == true {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "no successful probe: {}", route_health(&good).await);
    assert!(good.mock("primary").stats().requests >= 1);
    good.stop().await;

    let bad = Harness::start(
        PROBED,
        &["primary"],
        &[
            ("EXPECT", "banana".into()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
    )
    .await;
    let mut opened = serde_json::Value::Null;
    for _ in 0..60 {
        let health = route_health(&bad).await;
        if health["state"] == "open" {
            opened = health;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        opened["state"],
        "open",
        "never opened: {}",
        route_health(&bad).await
    );
    assert!(
        opened["reason"].as_str().unwrap().contains("did not match"),
        "{opened}"
    );
    // No user request was needed to find out.
    assert_eq!(bad.mock("primary").stats().requests, 2);
    bad.stop().await;
}

#[tokio::test]
async fn a_circuit_opened_by_one_replica_is_skipped_by_another_sharing_the_store() {
    use std::sync::Arc;

    use signalbox_gateway::{Gateway, GatewayOptions};
    use signalbox_state::{BreakerStore, InMemoryBreakers};

    let store: Arc<dyn BreakerStore> = Arc::new(InMemoryBreakers::default());
    // The replicas' decision logs, removed after they stop.
    let logs = signalbox_testkit::temp_dir("breakers");
    let replica = |h: &Harness, log: &str| {
        let vars = ["primary", "secondary", "tertiary"]
            .iter()
            .map(|n| (format!("{}_URL", n.to_uppercase()), h.mock(n).base_url()))
            .collect();
        let options = GatewayOptions {
            decision_log_path: Some(logs.path().join(log)),
            breaker_store: Some(Arc::clone(&store)),
            ..GatewayOptions::default()
        };
        Gateway::with_options(signalbox_testkit::config(BREAKERS, vars), options).unwrap()
    };
    // Two gateways in front of the same mocks, sharing one breaker store.
    let h = harness(&[]).await;
    let a = replica(&h, "a.db")
        .spawn(signalbox_testkit::any_port())
        .await
        .unwrap();
    let b = replica(&h, "b.db")
        .spawn(signalbox_testkit::any_port())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let ask = |base: String| {
        let client = client.clone();
        async move {
            client
                .post(format!("{base}/v1/chat/completions"))
                .json(&chat_body("chat", "hi"))
                .send()
                .await
                .unwrap()
        }
    };
    h.mock("primary").set_faults(failing(503));
    for _ in 0..3 {
        assert_eq!(ask(a.base_url()).await.status(), 200);
    }
    assert_eq!(
        h.mock("primary").stats().requests,
        3,
        "replica A tripped its breaker"
    );
    // Replica B has never seen the primary fail, and still skips it.
    let resp = ask(b.base_url()).await;
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["signalbox"]["degraded"][0], "fallback-route");
    assert_eq!(h.mock("primary").stats().requests, 3);
    a.shutdown().await;
    b.shutdown().await;
    h.stop().await;
}
