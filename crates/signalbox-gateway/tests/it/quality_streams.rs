//! Quality gates and streams: a stream cut mid-way (`on-stream-break:
//! continue`) is continued only on routes whose gate is open for the
//! request's intent.

use std::time::Duration;

use signalbox_core::SkipKind;
use signalbox_mock::Faults;

use crate::quality::{CONFIG, SUITE, admin_route, start_with};

/// A stream cut mid-way is not continued on a route whose gate is closed
/// for the request's intent; a request of another intent still is.
#[tokio::test]
async fn a_cut_stream_is_not_continued_on_a_route_closed_for_its_intent() {
    let config = CONFIG
        .replace(
            "model: b, region: us, supports: { tools: true }",
            "model: b, region: us, supports: { tools: true, prefill-continuation: true }",
        )
        .replace(
            "routes: [primary-route, secondary-route] }",
            "routes: [primary-route, secondary-route], on-stream-break: continue }",
        )
        .replace(
            "min-pass-rate: { tool-call: 1.0 }",
            "min-pass-rate: { tool-call: 1.0 }\n      intents: [weather]",
        );
    let h = start_with(SUITE, &config).await;
    h.mock("secondary").set_faults(Faults {
        corrupt_tool_arguments: true,
        ..Faults::default()
    });
    let mut closed = false;
    for _ in 0..100 {
        let route = admin_route(&h, "secondary-route").await;
        if route["health"]["quality_regression_by_intent"]["weather"].is_string() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "secondary-route never closed for weather");
    h.mock("primary").set_faults(Faults {
        stream_chunks: Some(6),
        cut_stream_after: Some(2),
        ..Faults::default()
    });
    let stream = |id: &'static str, intent: &'static str| {
        let h = &h;
        async move {
            let resp = h
                .chat_with(
                    &signalbox_testkit::stream_body("chat", "tell me a story"),
                    &[("x-request-id", id), ("x-signalbox-intent", intent)],
                )
                .await;
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap();
            h.record(id).await
        }
    };
    let weather = stream("cut-weather", "weather").await;
    let attempted: Vec<&str> = weather.attempts.iter().map(|a| a.route.as_str()).collect();
    assert_eq!(attempted, ["primary-route"], "{weather:?}");
    let skip = weather
        .skipped
        .iter()
        .find(|s| s.route == "secondary-route")
        .unwrap_or_else(|| panic!("no skip of secondary-route: {weather:?}"));
    assert_eq!(skip.kind, SkipKind::QualityRegression);
    assert!(
        skip.reason.ends_with("(for intent weather)"),
        "{}",
        skip.reason
    );
    let general = stream("cut-general", "general").await;
    assert!(
        general
            .attempts
            .iter()
            .any(|a| a.route.as_str() == "secondary-route"),
        "a general stream is continued on secondary-route: {general:?}"
    );
    h.stop().await;
}
