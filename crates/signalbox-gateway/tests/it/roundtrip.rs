//! Non-streaming round trips and the headers every response carries.

use serde_json::Value;
use signalbox_testkit::chat_body;

use crate::{header, two_routes};

#[tokio::test]
async fn non_streaming_round_trip_with_headers() {
    let h = two_routes().await;
    let resp = h.chat(&chat_body("chat", "hello gateway")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    assert_eq!(header(&resp, "x-signalbox-provider"), "primary");
    assert_eq!(
        header(&resp, "x-signalbox-model"),
        "upstream-model-a-2025-01"
    );
    assert_eq!(header(&resp, "x-signalbox-attempts"), "1");
    assert_eq!(header(&resp, "x-signalbox-policy-version").len(), 12);
    assert_eq!(header(&resp, "x-request-id").len(), 32);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "[primary] echo: hello gateway"
    );

    // The upstream saw the route's model name, our credentials and extra
    // headers, and the request id; never the alias.
    let stats = h.mock("primary").stats();
    assert_eq!(stats.requests, 1);
    let seen = stats.last_request.unwrap();
    assert_eq!(seen["model"], "upstream-model-a");
    assert_eq!(
        stats.last_headers.get("authorization").map(String::as_str),
        Some("Bearer sk-test-primary")
    );
    assert_eq!(
        stats.last_headers.get("x-team").map(String::as_str),
        Some("platform")
    );
    // The Host header names the upstream's own address (made once per
    // provider, not per request).
    assert_eq!(
        stats.last_headers.get("host"),
        Some(&h.mock("primary").addr().to_string())
    );
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn caller_request_id_is_echoed_and_forwarded() {
    let h = two_routes().await;
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-request-id", "trace-abc-123")
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-request-id"), "trace-abc-123");
    let stats = h.mock("primary").stats();
    assert_eq!(
        stats.last_headers.get("x-request-id").map(String::as_str),
        Some("trace-abc-123")
    );
    h.stop().await;
}

#[tokio::test]
async fn unknown_request_fields_pass_through() {
    let h = two_routes().await;
    let mut body = chat_body("chat", "hi");
    body["temperature"] = 0.25.into();
    body["vendor_extension"] = serde_json::json!({"k": [1, 2]});
    assert_eq!(h.chat(&body).await.status(), 200);
    let seen = h.mock("primary").stats().last_request.unwrap();
    assert_eq!(seen["temperature"], 0.25);
    assert_eq!(seen["vendor_extension"]["k"][1], 2);
    h.stop().await;
}

#[tokio::test]
async fn models_health_and_readiness() {
    let h = two_routes().await;
    let (status, body) = h.get("/v1/models").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["chat", "solo"]);
    assert_eq!(h.get("/healthz").await.0, 200);
    let (status, body) = h.get("/readyz").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["usable_routes"], 2);
    h.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_no_route_is_usable() {
    let h = two_routes().await;
    for (_, m) in &h.mocks {
        m.set_faults(signalbox_mock::Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Default::default()
        });
    }
    for _ in 0..5 {
        assert_eq!(h.chat(&chat_body("chat", "x")).await.status(), 502);
    }
    let (status, body) = h.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    h.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_a_pending_upstream_call() {
    let yaml = crate::TWO_ROUTES.replace(
        "first-byte: 700ms, total: 10s",
        "first-byte: 30s, total: 60s",
    );
    let h = signalbox_testkit::Harness::start(
        &yaml,
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "k".into())],
    )
    .await;
    let m = h.mock("primary");
    m.set_faults(signalbox_mock::Faults {
        hang: true,
        ..Default::default()
    });
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let err = quick
        .post(h.url("/v1/chat/completions"))
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(m.stats().hangs, 1);
    // The gateway dropped its upstream call with the caller, long before its
    // own 30 s deadline.
    let cancelled = signalbox_testkit::eventually(std::time::Duration::from_secs(5), || {
        m.stats().in_flight == 0
    })
    .await;
    assert!(cancelled, "upstream call still in flight: {:?}", m.stats());
    // The decision record says so.
    let log = h.gateway.gateway().decision_log().unwrap().clone();
    let mut found = None;
    for _ in 0..100 {
        log.flush().await;
        let q = signalbox_decision_log::Query {
            outcome: Some("cancelled".into()),
            ..Default::default()
        };
        if let Some(r) = log.reader().unwrap().query(&q).unwrap().into_iter().next() {
            found = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let record = found.expect("a cancelled record");
    assert_eq!(record.status, 499);
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn w3c_trace_context_reaches_the_provider_and_the_record() {
    let h = two_routes().await;
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let resp = h
        .chat_with(
            &chat_body("chat", "hi"),
            &[
                ("traceparent", parent),
                ("tracestate", "congo=t61rcWkgMzE"),
                ("x-request-id", "trace-1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("primary").stats().last_headers;
    let tp = &sent["traceparent"];
    // Same trace, the gateway's own span as the parent of the provider call.
    assert!(
        tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{tp}"
    );
    assert!(!tp.contains("00f067aa0ba902b7"), "{tp}");
    assert!(tp.ends_with("-01"), "{tp}");
    assert_eq!(sent["tracestate"], "congo=t61rcWkgMzE");
    assert_eq!(sent["x-request-id"], "trace-1");
    let rec = crate::translation::record(&h, "trace-1").await;
    assert_eq!(
        rec.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );

    // Without one, the gateway starts a trace and the provider sees it.
    let resp = h
        .chat_with(&chat_body("chat", "hi"), &[("x-request-id", "trace-2")])
        .await;
    assert_eq!(resp.status(), 200);
    let tp = h.mock("primary").stats().last_headers["traceparent"].clone();
    let rec = crate::translation::record(&h, "trace-2").await;
    let id = rec.trace_id.unwrap();
    assert_eq!(id.len(), 32);
    assert!(tp.starts_with(&format!("00-{id}-")), "{tp}");
    h.stop().await;
}
