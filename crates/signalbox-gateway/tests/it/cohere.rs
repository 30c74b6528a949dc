//! Cohere's v2 Chat API end to end, with no network: OpenAI-format clients
//! served by a Cohere-format upstream (the in-process mock speaking the
//! format from `signalbox_adapters::cohere::mock`) — JSON, streams and tool
//! calls translated both ways, Cohere errors mapped to their outcome class,
//! and failover from a Cohere route to an OpenAI-compatible one.

use serde_json::{Value, json};
use signalbox_core::{OutcomeClass, ProviderKind};
use signalbox_mock::{Faults, MockFormat};
use signalbox_testkit::{Harness, chat_body, stream_body};

use crate::header;
use crate::translation::{openai_stream, record, start, streamed_text, weather};

/// A Cohere provider and an OpenAI-compatible one; `cohere-first` fails
/// over from the first to the second.
const CONFIG: &str = r#"
providers:
  - name: co
    kind: cohere
    base-url: ${CO_URL}
    api-key: { env: CO_KEY }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: gpt
    kind: openai-compatible
    base-url: ${GPT_URL}
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - id: cohere-route
    provider: co
    model: command-a-03-2025
    region: us
    supports: { tools: true, streaming: true, json-mode: true }
    price: { input-per-1m: 2.5, output-per-1m: 10.0 }
  - id: gpt-route
    provider: gpt
    model: gpt-test
    region: us
    supports: { tools: true, streaming: true }
aliases:
  - name: cohere
    routes: [cohere-route]
  - name: cohere-first
    routes: [cohere-route, gpt-route]
"#;

async fn harness() -> Harness {
    // The Cohere kind has a mock side (were it missing, the OpenAI default
    // would answer and every assertion on the Cohere wire format fail).
    let cohere = MockFormat::of(ProviderKind::Cohere).unwrap_or_default();
    start(
        CONFIG,
        &[("co", cohere), ("gpt", MockFormat::OpenAi)],
        &[("CO_KEY", "co-test-key".into())],
    )
    .await
}

fn failing(status: u16) -> Faults {
    Faults {
        error_rate: 1.0,
        error_status: status,
        ..Faults::default()
    }
}

#[tokio::test]
async fn a_json_answer_comes_back_in_the_openai_shape() {
    let h = harness().await;
    let resp = h
        .chat_with(
            &chat_body("cohere", "hello there"),
            &[("x-request-id", "co-json")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-provider"), "co");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[co] echo: hello there"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 4, "{v}");

    // The upstream saw Cohere's wire format, with the key as a bearer token.
    let stats = h.mock("co").stats();
    assert_eq!(stats.requests, 1);
    let sent = stats.last_request.unwrap();
    assert_eq!(sent["model"], "command-a-03-2025");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "user", "content": [{"type": "text", "text": "hello there"}]})
    );
    assert_eq!(stats.last_headers["authorization"], "Bearer co-test-key");

    let rec = record(&h, "co-json").await;
    assert_eq!(rec.outcome, "served");
    assert_eq!(rec.attempts[0].outcome, OutcomeClass::Success);
    h.stop().await;
}

#[tokio::test]
async fn a_stream_is_translated_event_by_event() {
    let h = harness().await;
    let resp = h.chat(&stream_body("cohere", "stream this")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let chunks = openai_stream(&resp.text().await.unwrap());
    assert_eq!(streamed_text(&chunks), "[co] echo: stream this");
    let reasons: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(reasons, [&json!("stop")]);
    assert_eq!(h.mock("co").stats().last_request.unwrap()["stream"], true);
    h.stop().await;
}

#[tokio::test]
async fn tool_calls_round_trip_json_and_streamed() {
    let h = harness().await;
    let resp = h.chat(&weather("cohere", false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather", "{v}");
    assert_eq!(call["function"]["arguments"], r#"{"location":"Paris"}"#);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let sent = h.mock("co").stats().last_request.unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");

    let resp = h.chat(&weather("cohere", true)).await;
    let chunks = openai_stream(&resp.text().await.unwrap());
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"location":"Paris"}"#);
    h.stop().await;
}

/// A Cohere error with `status` on the only route: its outcome class.
async fn error_class(status: u16) -> (u16, OutcomeClass) {
    let h = harness().await;
    h.mock("co").set_faults(failing(status));
    let id = format!("co-err-{status}");
    let resp = h
        .chat_with(&chat_body("cohere", "hello"), &[("x-request-id", &id)])
        .await;
    let answered = resp.status().as_u16();
    let rec = record(&h, &id).await;
    assert_eq!(rec.attempts[0].status, Some(status));
    assert!(
        rec.attempts[0].detail.contains("cohere"),
        "{:?}",
        rec.attempts[0]
    );
    h.stop().await;
    (answered, rec.attempts[0].outcome)
}

#[tokio::test]
async fn cohere_errors_map_to_their_outcome_class() {
    assert_eq!(error_class(400).await, (400, OutcomeClass::RequestRejected));
    assert_eq!(error_class(429).await.1, OutcomeClass::RateLimited);
    assert_eq!(error_class(401).await.1, OutcomeClass::AuthRejected);
    assert_eq!(error_class(503).await.1, OutcomeClass::ServerError);
}

#[tokio::test]
async fn a_failing_cohere_route_fails_over_to_the_openai_one() {
    let h = harness().await;
    h.mock("co").set_faults(failing(503));
    let resp = h
        .chat_with(
            &chat_body("cohere-first", "hello"),
            &[("x-request-id", "co-fo")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "[gpt] echo: hello");
    let rec = record(&h, "co-fo").await;
    assert_eq!(rec.attempts[0].route.to_string(), "cohere-route");
    assert_eq!(rec.attempts[0].outcome, OutcomeClass::ServerError);
    assert_eq!(rec.attempts[1].outcome, OutcomeClass::Success);

    // Before a stream's first byte, too.
    h.mock("co").set_faults(Faults {
        rate_limit_retry_after_secs: Some(5),
        ..Faults::default()
    });
    let resp = h.chat(&stream_body("cohere-first", "stream it")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "gpt-route");
    let chunks = openai_stream(&resp.text().await.unwrap());
    assert_eq!(streamed_text(&chunks), "[gpt] echo: stream it");
    h.stop().await;
}

/// A JSON schema reaches Cohere natively (`response_format` JSON mode with
/// the schema), and the answer is checked: the mock answers prose, so the
/// caller gets a 502 naming why, never the prose.
#[tokio::test]
async fn a_json_schema_is_sent_natively_and_the_answer_checked() {
    let h = harness().await;
    let schema = json!({"type": "object", "properties": {"location": {"type": "string"}},
        "required": ["location"]});
    let mut body = chat_body("cohere", "where?");
    body["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "place", "schema": schema}});
    let resp = h.chat(&body).await;
    let sent = h.mock("co").stats().last_request.unwrap();
    assert_eq!(sent["response_format"]["type"], "json_object", "{sent}");
    assert_eq!(sent["response_format"]["json_schema"], schema, "{sent}");
    crate::error_says(resp, 502, "not JSON as its response schema requires").await;
    h.stop().await;
}
