//! Native egress when things go wrong, and what the decision record says:
//! failover from an Anthropic route to an OpenAI one, Anthropic rejections
//! passed through, rate limits moved past, usage/cost/translation notes
//! recorded, and zero retention on the OpenAI-compatible path.

use serde_json::{Value, json};
use signalbox_core::OutcomeClass;
use signalbox_mock::Faults;
use signalbox_testkit::{chat_body, stream_body};

use crate::header;
use crate::translation::{native, record};

fn failing(status: u16) -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: status,
        ..Faults::default()
    }
}

async fn fails_over_to_openai(status: u16) {
    let h = native().await;
    h.mock("claude").set_faults(failing(status));
    let id = format!("fo-{status}");
    let resp = h
        .chat_with(&chat_body("mixed", "hello"), &[("x-request-id", &id)])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(header(&resp, "x-signalbox-provider"), "gpt");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "[gpt] echo: hello");
    assert_eq!(h.mock("claude").stats().requests, 1);
    assert_eq!(h.mock("gpt").stats().requests, 1);

    let rec = record(&h, &id).await;
    assert_eq!(rec.outcome, "served");
    assert_eq!(rec.chosen.as_deref(), Some("gpt-route"));
    assert_eq!(rec.attempts.len(), 2, "{:?}", rec.attempts);
    let first = &rec.attempts[0];
    assert_eq!(first.route.to_string(), "claude-route");
    assert_eq!(first.outcome, OutcomeClass::ServerError, "{first:?}");
    assert_eq!(first.status, Some(status));
    assert!(first.detail.contains("anthropic"), "{first:?}");
    assert_eq!(rec.attempts[1].outcome, OutcomeClass::Success);
    h.stop().await;
}

#[tokio::test]
async fn anthropic_overloaded_529_fails_over_to_the_openai_route() {
    fails_over_to_openai(529).await;
}

#[tokio::test]
async fn anthropic_503_fails_over_to_the_openai_route() {
    fails_over_to_openai(503).await;
}

#[tokio::test]
async fn anthropic_failure_before_a_stream_fails_over_too() {
    let h = native().await;
    h.mock("claude").set_faults(failing(529));
    let resp = h.chat(&stream_body("mixed", "stream it")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let chunks = crate::translation::openai_stream(&resp.text().await.unwrap());
    assert_eq!(
        crate::translation::streamed_text(&chunks),
        "[gpt] echo: stream it"
    );
    h.stop().await;
}

#[tokio::test]
async fn anthropic_400_is_a_rejection_passed_through_not_failed_over() {
    let h = native().await;
    h.mock("claude").set_faults(failing(400));
    let resp = h
        .chat_with(&chat_body("mixed", "hello"), &[("x-request-id", "rej-1")])
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-signalbox-attempts"), "1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upstream_rejected", "{v}");
    assert_eq!(h.mock("gpt").stats().requests, 0);
    let rec = record(&h, "rej-1").await;
    assert_eq!(rec.outcome, "rejected");
    assert_eq!(rec.status, 400);
    assert_eq!(rec.attempts.len(), 1);
    assert_eq!(rec.attempts[0].outcome, OutcomeClass::RequestRejected);
    assert_eq!(rec.attempts[0].status, Some(400));
    h.stop().await;
}

#[tokio::test]
async fn anthropic_429_with_retry_after_is_rate_limited_and_moves_on() {
    let h = native().await;
    h.mock("claude").set_faults(Faults {
        rate_limit_retry_after_secs: Some(30),
        ..Faults::default()
    });
    let resp = h
        .chat_with(&chat_body("mixed", "hello"), &[("x-request-id", "rl-1")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let rec = record(&h, "rl-1").await;
    let first = &rec.attempts[0];
    assert_eq!(first.outcome, OutcomeClass::RateLimited, "{first:?}");
    assert_eq!(first.status, Some(429));
    assert_eq!(first.retry_after_secs, Some(30));
    h.stop().await;
}

#[tokio::test]
async fn records_of_anthropic_answers_carry_usage_cost_and_translation_notes() {
    let h = native().await;
    let resp = h
        .chat_with(
            &chat_body("claude", "hello"),
            &[("x-request-id", "rec-json")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let rec = record(&h, "rec-json").await;
    assert_eq!(rec.outcome, "served");
    assert_eq!(rec.provider.as_deref(), Some("claude"));
    let usage = rec.usage.expect("usage recorded");
    assert_eq!(usage.prompt_tokens, v["usage"]["prompt_tokens"]);
    assert_eq!(usage.completion_tokens, 3);
    let cost = rec.cost_usd.expect("cost recorded");
    let expected = (usage.prompt_tokens as f64 * 3.0 + 3.0 * 15.0) / 1e6;
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    let note = rec
        .translation
        .iter()
        .find(|n| n.field == "route.retention")
        .unwrap_or_else(|| panic!("no retention note: {:?}", rec.translation));
    assert_eq!(note.action, "dropped");
    assert!(note.reason.contains("retention"), "{note:?}");

    // A stream without include_usage: the usage still reaches the record.
    let resp = h
        .chat_with(
            &stream_body("claude", "hello"),
            &[("x-request-id", "rec-stream")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("signalbox-usage"), "{text}");
    let rec = record(&h, "rec-stream").await;
    assert!(rec.stream);
    assert_eq!(rec.outcome, "served");
    let usage = rec.usage.expect("stream usage recorded");
    assert!(usage.prompt_tokens > 0);
    assert_eq!(usage.completion_tokens, 3);
    assert!(rec.cost_usd.expect("stream cost recorded") > 0.0);
    assert!(
        rec.translation.iter().any(|n| n.field == "route.retention"),
        "{:?}",
        rec.translation
    );

    // A route with standard retention has no such note.
    h.chat_with(
        &chat_body("gemini", "hello"),
        &[("x-request-id", "rec-gem")],
    )
    .await;
    let rec = record(&h, "rec-gem").await;
    assert!(rec.usage.is_some() && rec.cost_usd.is_some());
    assert!(
        !rec.translation.iter().any(|n| n.field == "route.retention"),
        "{:?}",
        rec.translation
    );
    h.stop().await;
}

#[tokio::test]
async fn zero_retention_on_an_openai_compatible_route_sends_store_false() {
    let h = native().await;
    let resp = h.chat(&chat_body("gpt", "hello")).await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("gpt").stats().last_request.unwrap();
    assert_eq!(sent["store"], false, "{sent}");
    assert_eq!(sent["model"], "gpt-test");

    // Even when the caller asks for storage.
    let mut body = chat_body("gpt", "keep this");
    body["store"] = json!(true);
    assert_eq!(h.chat(&body).await.status(), 200);
    let sent = h.mock("gpt").stats().last_request.unwrap();
    assert_eq!(sent["store"], false, "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn unreadable_anthropic_answer_is_a_bad_response_and_fails_over() {
    let h = native().await;
    h.mock("claude").set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let resp = h
        .chat_with(&chat_body("mixed", "hello"), &[("x-request-id", "bad-1")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    let rec = record(&h, "bad-1").await;
    assert_eq!(rec.attempts[0].outcome, OutcomeClass::BadResponse);
    h.stop().await;
}

#[tokio::test]
async fn anthropic_stream_cut_mid_answer_ends_with_an_error_event_never_spliced() {
    let h = native().await;
    // message_start, content_block_start, ping, two text deltas, then cut.
    h.mock("claude").set_faults(Faults {
        cut_stream_after: Some(5),
        ..Faults::default()
    });
    let resp = h
        .chat_with(
            &stream_body("mixed", "a b c d e f g"),
            &[("x-request-id", "cut-1")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    let events = crate::translation::sse_json(&text);
    let last = events.last().unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{text}");
    assert_eq!(last["signalbox"]["route"], "claude-route", "{text}");
    assert!(
        !crate::translation::streamed_text(&events).is_empty(),
        "{text}"
    );
    assert_eq!(h.mock("gpt").stats().requests, 0);
    let rec = record(&h, "cut-1").await;
    assert_eq!(rec.attempts.len(), 1, "{:?}", rec.attempts);
    // The serving attempt's stream broke after commit: recorded as such.
    assert_eq!(rec.attempts[0].outcome, OutcomeClass::StreamCut, "{rec:?}");
    assert_eq!(rec.chosen.as_deref(), Some("claude-route"));
    let error = rec.error.clone().unwrap_or_default();
    assert!(error.contains("stream interrupted"), "{rec:?}");
    h.stop().await;
}

#[tokio::test]
async fn anthropic_client_stream_fails_over_from_anthropic_to_openai() {
    let h = native().await;
    h.mock("claude").set_faults(failing(529));
    let body = json!({
        "model": "mixed", "max_tokens": 32, "stream": true,
        "messages": [{"role": "user", "content": "hello"}]
    });
    let resp = h.messages(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let text = resp.text().await.unwrap();
    let said: String = crate::translation::sse_json(&text)
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(said, "[gpt] echo: hello", "{text}");
    assert!(text.contains("event: message_stop"), "{text}");
    h.stop().await;
}

#[tokio::test]
async fn anthropic_client_tool_use_round_trips_through_an_anthropic_upstream() {
    let h = native().await;
    let tools = json!([{
        "name": "get_weather", "description": "Current weather",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}
    }]);
    let body = json!({
        "model": "claude", "max_tokens": 64, "tools": tools,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}]
    });
    let resp = h.messages(&body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use", "{v}");
    let block = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use block: {v}"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"location": "Paris"}));
    assert!(block["id"].is_string(), "{v}");
    h.stop().await;
}

#[tokio::test]
async fn a_route_that_cannot_carry_the_request_is_skipped_not_mangled() {
    let h = native().await;
    // Anthropic generates one choice per request: `n: 2` cannot go there.
    let mut body = chat_body("mixed", "hello");
    body["n"] = json!(2);
    let resp = h.chat_with(&body, &[("x-request-id", "refuse-1")]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(h.mock("claude").stats().requests, 0);
    let rec = record(&h, "refuse-1").await;
    let skip = rec
        .skipped
        .iter()
        .find(|s| s.route == "claude-route")
        .unwrap_or_else(|| panic!("{rec:?}"));
    assert!(
        skip.reason
            .contains("cannot carry the request: anthropic cannot honour `n`"),
        "{skip:?}"
    );
    // Only this route's alias: nothing can serve it, and the error says why.
    let mut body = chat_body("claude", "hello");
    body["n"] = json!(2);
    let resp = h.chat(&body).await;
    // The request, not the providers, must change: a 400 naming the field.
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_by_routes", "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`n`") && !message.contains("sampling.n"),
        "{v}"
    );
    h.stop().await;
}

#[tokio::test]
async fn azure_deployments_get_the_openai_body_with_api_key_and_version() {
    let config = r#"
providers:
  - name: az
    kind: azure-openai
    base-url: ${AZ_ROOT}
    api-key: { env: AZ_KEY }
    quirks: { seed: false }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - { id: az-route, provider: az, model: my-deployment, region: us, retention: zero }
aliases:
  - { name: chat, routes: [az-route] }
"#;
    let mock = signalbox_mock::MockProvider::start(
        signalbox_testkit::any_port(),
        signalbox_mock::MockOptions::default(),
    )
    .await
    .unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let h = crate::translation::start(
        config,
        &[],
        &[("AZ_ROOT", root), ("AZ_KEY", "az-secret".into())],
    )
    .await;
    let mut body = chat_body("chat", "hello azure");
    body["seed"] = json!(7);
    let resp = h.chat_with(&body, &[("x-request-id", "az-1")]).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[mock] echo: hello azure"
    );
    let stats = mock.stats();
    assert_eq!(stats.last_headers["api-key"], "az-secret");
    assert!(!stats.last_headers.contains_key("authorization"));
    let sent = stats.last_request.unwrap();
    assert_eq!(sent["store"], false, "{sent}");
    assert!(sent.get("seed").is_none(), "{sent}");
    let rec = record(&h, "az-1").await;
    assert!(
        rec.translation
            .iter()
            .any(|n| n.field == "sampling.seed" && n.action == "dropped"),
        "{:?}",
        rec.translation
    );
    h.stop().await;
    mock.shutdown();
}
