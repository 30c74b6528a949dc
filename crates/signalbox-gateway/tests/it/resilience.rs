//! The defaults users get from `examples/failover.yaml` as shipped: designed
//! failover that is never silent, breakers that stop hammering a dead
//! primary, `x-signalbox-degrade: never`, at-most-once, idempotency keys.

use serde_json::Value;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body, closed_port_url, stream_body};

use crate::header;

const FAILOVER_YAML: &str = include_str!("../../../../examples/failover.yaml");

async fn shipped_example() -> Harness {
    Harness::start(FAILOVER_YAML, &["primary", "secondary"], &[]).await
}

/// GETs an admin path with the token `admin_example` configures.
async fn admin_get(h: &Harness, path: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(h.url(path))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The shipped example plus an admin token.
async fn admin_example() -> Harness {
    let yaml = format!("{FAILOVER_YAML}\nadmin:\n  token: {{ env: ADMIN_TOKEN }}\n");
    Harness::start(
        &yaml,
        &["primary", "secondary"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await
}

fn all_503() -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    }
}

#[tokio::test]
async fn primary_outage_is_served_by_secondary_marked_degraded_and_the_breaker_opens() {
    let h = admin_example().await;
    h.mock("primary").set_faults(all_503());
    for i in 0..30 {
        let resp = h.chat(&chat_body("chat", &format!("q{i}"))).await;
        assert_eq!(resp.status(), 200, "request {i}");
        assert_eq!(header(&resp, "x-signalbox-route"), "secondary");
        assert!(
            header(&resp, "x-signalbox-degraded").contains("fallback-route"),
            "request {i} not marked degraded"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["signalbox"]["degraded"][0], "fallback-route");
        assert!(body["signalbox"]["request_id"].is_string());
    }
    let primary_calls = h.mock("primary").stats().requests;
    assert!(
        primary_calls <= 10,
        "primary received {primary_calls} of 30"
    );
    assert_eq!(h.mock("secondary").stats().requests, 30);

    // The breaker is visible to operators and in metrics.
    let routes = admin_get(&h, "/admin/routes").await;
    let primary = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "primary")
        .unwrap()
        .clone();
    assert_eq!(primary["health"]["state"], "open", "{primary}");
    assert!(
        primary["health"]["reason"]
            .as_str()
            .unwrap()
            .contains("failures in a row")
    );
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics.contains(r#"signalbox_route_breaker_state{route="primary"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"signalbox_degraded_total{step="fallback-route"} 30"#));
    h.stop().await;
}

#[tokio::test]
async fn degrade_never_gets_a_fail_closed_refusal() {
    let h = shipped_example().await;
    h.mock("primary").set_faults(all_503());
    let resp = h
        .chat_with(
            &chat_body("chat", "hi"),
            &[("x-signalbox-degrade", "never")],
        )
        .await;
    assert_eq!(resp.status(), 503);
    let request_id = header(&resp, "x-request-id").to_string();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "fail_closed");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("x-signalbox-degrade: never"), "{msg}");
    assert_eq!(body["signalbox"]["request_id"], request_id.as_str());
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn irreversible_request_to_a_hanging_primary_times_out_and_is_never_sent_twice() {
    let h = shipped_example().await;
    h.mock("primary").set_faults(Faults {
        hang: true,
        ..Faults::default()
    });
    let resp = h
        .chat_with(
            &chat_body("chat", "transfer"),
            &[("x-signalbox-irreversible", "true")],
        )
        .await;
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("at-most-once"), "{msg}");
    assert_eq!(h.mock("primary").stats().requests, 1);
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn irreversible_request_moves_on_when_the_primary_port_is_closed() {
    irreversible_moves_on_from(closed_port_url().await).await;
}

/// An irreversible request whose primary (at `primary_url`) cannot be
/// reached is still served by the secondary: it was never sent.
async fn irreversible_moves_on_from(primary_url: String) {
    let h = Harness::start(
        &FAILOVER_YAML.replace("${PRIMARY_URL}", "${UNREACHABLE_URL}"),
        &["secondary"],
        &[("UNREACHABLE_URL", primary_url)],
    )
    .await;
    let resp = h
        .chat_with(
            &chat_body("chat", "transfer"),
            &[("x-signalbox-irreversible", "true")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary");
    assert_eq!(h.mock("secondary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_is_a_connect_failure() {
    // Accepts TCP connections and never says a word: the TLS handshake hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    // connect 1s < first-byte 5s in the shipped example: the setup timeout
    // must fire first, and as a connect failure, so at-most-once moves on.
    irreversible_moves_on_from(format!("https://127.0.0.1:{port}/v1")).await;
    silent.abort();
}

#[tokio::test]
async fn same_idempotency_key_and_body_means_one_upstream_call_and_identical_bodies() {
    let h = shipped_example().await;
    let body = chat_body("chat", "charge the card");
    let key = [("idempotency-key", "order-42")];
    let first = h.chat_with(&body, &key).await;
    assert_eq!(first.status(), 200);
    let first_body = first.bytes().await.unwrap();
    let second = h.chat_with(&body, &key).await;
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-signalbox-idempotent-replay"), "true");
    assert_eq!(second.bytes().await.unwrap(), first_body);
    assert_eq!(h.mock("primary").stats().requests, 1);

    // The same key with another body is a conflict, not a replay.
    let other = h
        .chat_with(&chat_body("chat", "something else"), &key)
        .await;
    assert_eq!(other.status(), 422);
    let err: Value = other.json().await.unwrap();
    assert_eq!(err["error"]["code"], "idempotency_key_reused");
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn concurrent_duplicates_wait_for_the_first_and_share_its_answer() {
    let h = shipped_example().await;
    h.mock("primary").set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let body = chat_body("chat", "once");
    let key = [("idempotency-key", "dup-1")];
    let (a, b, c) = tokio::join!(
        h.chat_with(&body, &key),
        h.chat_with(&body, &key),
        h.chat_with(&body, &key)
    );
    let mut bodies = Vec::new();
    for r in [a, b, c] {
        assert_eq!(r.status(), 200);
        bodies.push(r.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn idempotent_streams_replay_their_stored_events() {
    let h = shipped_example().await;
    let body = stream_body("chat", "stream me");
    let key = [("idempotency-key", "stream-1")];
    let first = h.chat_with(&body, &key).await.text().await.unwrap();
    assert!(first.contains("data: [DONE]"), "{first}");
    let replay = h.chat_with(&body, &key).await;
    assert_eq!(header(&replay, "content-type"), "text/event-stream");
    assert_eq!(replay.text().await.unwrap(), first);
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn failed_requests_release_their_key_so_a_retry_executes() {
    let h = shipped_example().await;
    h.mock("primary").set_faults(all_503());
    h.mock("secondary").set_faults(all_503());
    let body = chat_body("chat", "retry me");
    let key = [("idempotency-key", "k-fail")];
    assert_eq!(h.chat_with(&body, &key).await.status(), 502);
    h.mock("primary").set_faults(Faults::default());
    h.mock("secondary").set_faults(Faults::default());
    let again = h.chat_with(&body, &key).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "x-signalbox-idempotent-replay"), "");
    h.stop().await;
}

#[tokio::test]
async fn a_degraded_stream_names_its_steps_in_the_header_and_first_event() {
    let h = shipped_example().await;
    h.mock("primary").set_faults(all_503());
    let resp = h.chat(&stream_body("chat", "stream it")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let text = resp.text().await.unwrap();
    let first = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let v: Value = serde_json::from_str(first).unwrap();
    assert_eq!(v["signalbox"]["degraded"][0], "fallback-route", "{first}");
    assert!(text.contains("data: [DONE]"));
    h.stop().await;
}
