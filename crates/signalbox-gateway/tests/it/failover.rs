//! Failover between routes: on 503, 429, timeouts and refused connections
//! the next route serves; a request the upstream rejects is not retried.

use serde_json::Value;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body, closed_port_url};

use crate::{TWO_ROUTES, header, two_routes};

async fn served_by_secondary(h: &Harness, expect_attempts: &str) {
    let resp = h.chat(&chat_body("chat", "hello")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&resp, "x-signalbox-provider"), "secondary");
    assert_eq!(header(&resp, "x-signalbox-attempts"), expect_attempts);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "[secondary] echo: hello"
    );
    assert_eq!(
        h.mock("secondary").stats().last_request.unwrap()["model"],
        "upstream-model-b"
    );
}

#[tokio::test]
async fn falls_back_on_503() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    served_by_secondary(&h, "2").await;
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn falls_back_on_429() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        rate_limit_retry_after_secs: Some(30),
        ..Faults::default()
    });
    served_by_secondary(&h, "2").await;
    h.stop().await;
}

#[tokio::test]
async fn falls_back_on_first_byte_timeout() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        hang: true,
        ..Faults::default()
    });
    served_by_secondary(&h, "2").await;
    h.stop().await;
}

#[tokio::test]
async fn falls_back_on_malformed_upstream_json() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    served_by_secondary(&h, "2").await;
    h.stop().await;
}

#[tokio::test]
async fn falls_back_on_connection_refused() {
    let closed = closed_port_url().await;
    let h = Harness::start(
        &TWO_ROUTES.replace("${PRIMARY_URL}", "${CLOSED_URL}"),
        &["secondary"],
        &[("PRIMARY_KEY", "k".into()), ("CLOSED_URL", closed)],
    )
    .await;
    served_by_secondary(&h, "2").await;
    h.stop().await;
}

#[tokio::test]
async fn no_fallback_when_the_upstream_rejects_the_request() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 400,
        ..Faults::default()
    });
    let resp = h.chat(&chat_body("chat", "hello")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-signalbox-attempts"), "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_rejected");
    assert_eq!(
        h.mock("secondary").stats().requests,
        0,
        "a request the upstream rejected must not be failed over"
    );
    h.stop().await;
}

#[tokio::test]
async fn final_failure_lists_every_attempt_with_status_by_cause() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        ..Faults::default()
    });
    h.mock("secondary").set_faults(Faults {
        hang: true,
        ..Faults::default()
    });
    let resp = h.chat(&chat_body("chat", "hello")).await;
    assert_eq!(
        resp.status(),
        502,
        "an upstream 5xx is the most relevant cause"
    );
    assert_eq!(header(&resp, "x-signalbox-attempts"), "2");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "upstream_error");
    let attempts = body["signalbox"]["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["route"], "primary-route");
    assert_eq!(attempts[0]["outcome"], "server_error");
    assert_eq!(attempts[0]["status"], 500);
    assert_eq!(attempts[1]["route"], "secondary-route");
    assert_eq!(attempts[1]["outcome"], "timeout");
    h.stop().await;
}

#[tokio::test]
async fn timeouts_everywhere_answer_504() {
    let h = two_routes().await;
    for (_, m) in &h.mocks {
        m.set_faults(Faults {
            hang: true,
            ..Faults::default()
        });
    }
    let resp = h.chat(&chat_body("chat", "hello")).await;
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_timeout");
    h.stop().await;
}

#[tokio::test]
async fn rate_limits_everywhere_answer_503_with_retry_after() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        rate_limit_retry_after_secs: Some(12),
        ..Faults::default()
    });
    h.mock("secondary").set_faults(Faults {
        rate_limit_retry_after_secs: Some(7),
        ..Faults::default()
    });
    let resp = h.chat(&chat_body("chat", "hello")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(header(&resp, "retry-after"), "7");
    h.stop().await;
}

#[tokio::test]
async fn single_route_alias_reports_its_route_on_failure() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h.chat(&chat_body("solo", "hello")).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

/// Accounting after failover: the answer names the serving route's model
/// and carries its usage; the failed attempt is recorded with its outcome
/// and no usage or cost of its own (only the serving route's answer is
/// priced and counted).
#[tokio::test]
async fn a_failed_over_answer_is_accounted_to_the_serving_route_only() {
    let h = two_routes().await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-request-id", "acct-1")
        .json(&chat_body("chat", "hello there"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "x-signalbox-model"), "upstream-model-b");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["model"], "upstream-model-b",
        "the serving route's model"
    );
    let rec = h.record("acct-1").await;
    assert_eq!(rec.chosen.as_deref(), Some("secondary-route"));
    assert_eq!(rec.model_version.as_deref(), Some("upstream-model-b"));
    let outcomes: Vec<&str> = rec.attempts.iter().map(|a| a.outcome.label()).collect();
    assert_eq!(outcomes, ["server_error", "success"]);
    let usage = rec.usage.unwrap();
    assert_eq!(
        body["usage"]["completion_tokens"].as_u64(),
        Some(usage.completion_tokens),
        "the record's usage is the served answer's, not a sum over attempts"
    );
    h.stop().await;
}
