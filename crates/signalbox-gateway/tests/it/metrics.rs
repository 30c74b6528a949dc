//! `/metrics` counters move with traffic.

use signalbox_mock::Faults;
use signalbox_testkit::chat_body;

use crate::two_routes;

/// A series' value in the exposition text (0 when absent).
pub(crate) fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move() {
    let h = two_routes().await;
    h.chat(&chat_body("chat", "one")).await;
    h.chat(&chat_body("chat", "two")).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    h.chat(&chat_body("chat", "three")).await;
    h.chat(&chat_body("nope", "four")).await;
    let (status, text) = h.get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        value(
            &text,
            r#"signalbox_requests_total{alias="chat",route="primary-route",status="200"}"#
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"signalbox_requests_total{alias="chat",route="secondary-route",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"signalbox_upstream_attempts_total{route="primary-route",provider="primary",outcome="success"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"signalbox_upstream_attempts_total{route="primary-route",provider="primary",outcome="server_error"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"signalbox_errors_total{class="model_not_found"}"#),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"signalbox_request_duration_seconds_count{alias="chat"}"#
        ),
        3.0
    );
    assert!(text.contains("signalbox_upstream_duration_seconds_bucket"));
    h.stop().await;
}
