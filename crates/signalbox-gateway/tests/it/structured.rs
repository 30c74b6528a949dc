//! Structured output on every provider: a JSON schema is enforced through a
//! forced tool where the provider has no schema mode (Anthropic), and every
//! whole answer is checked against the schema before it is returned; an
//! answer that breaks it fails over like any bad answer.

use serde_json::{Value, json};
use signalbox_mock::{MockFormat, MockOptions};

use crate::header;

/// `echo` (OpenAI-compatible: answers with text, not JSON) before `claude`
/// (Anthropic: answers a forced tool with `{"location":"Paris"}`).
const MIXED: &str = r#"
providers:
  - name: echo
    kind: openai-compatible
    base-url: ${ECHO_URL}
  - name: claude
    kind: anthropic
    base-url: ${CLAUDE_URL}
routes:
  - { id: echo-route, provider: echo, model: e, region: us, supports: { json-mode: true, tools: true } }
  - { id: claude-route, provider: claude, model: c, region: us, supports: { json-mode: true, tools: true } }
aliases:
  - name: both
    routes: [echo-route, claude-route]
  - name: claude
    routes: [claude-route]
"#;

async fn start() -> signalbox_testkit::Harness {
    signalbox_testkit::Harness::start_formats(
        MIXED,
        &[
            ("echo", MockFormat::OpenAi),
            ("claude", MockFormat::Anthropic),
        ],
        &[],
        MockOptions::default(),
    )
    .await
}

fn request(model: &str, schema: Value, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "where?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    })
}

fn place() -> Value {
    json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
}

#[tokio::test]
async fn an_anthropic_route_answers_a_json_schema_through_a_forced_tool() {
    let h = start().await;
    let resp = h.chat(&request("claude", place(), false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(content).unwrap_or_default(),
        json!({"location": "Paris"}),
        "{v}"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    assert!(v["choices"][0]["message"]["tool_calls"].is_null(), "{v}");
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(sent["tool_choice"]["type"], "tool", "{sent}");
    assert_eq!(sent["tools"][0]["input_schema"], place(), "{sent}");

    // Streamed, the forced call's arguments are the text.
    let text = h
        .chat(&request("claude", place(), true))
        .await
        .text()
        .await
        .unwrap();
    let said = crate::sse_text(&text, "/choices/0/delta/content");
    assert_eq!(
        serde_json::from_str::<Value>(&said).unwrap_or_default(),
        json!({"location": "Paris"}),
        "{text}"
    );
    assert!(!text.contains("tool_calls"), "{text}");
    h.stop().await;
}

#[tokio::test]
async fn an_answer_that_breaks_the_schema_fails_over_and_never_reaches_the_caller() {
    let h = start().await;
    // `echo` answers prose: a bad answer; `claude` answers the schema.
    let resp = h.chat(&request("both", place(), false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["signalbox"]["degraded"], json!(["fallback-route"]), "{v}");

    // No route's answer matches: a 502 that says why, naming the path.
    let strict =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let resp = h.chat(&request("both", strict, false)).await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not JSON as its response schema requires"),
        "{v}"
    );
    assert!(
        message.contains("does not match its response schema"),
        "{v}"
    );
    assert_eq!(h.mock("echo").stats().requests, 2);
    h.stop().await;
}

#[tokio::test]
async fn a_schema_with_the_requests_own_tools_is_refused_for_anthropic_naming_why() {
    let h = start().await;
    let mut body = request("claude", place(), false);
    body["tools"] =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("forced tool"),
        "{v}"
    );
    assert_eq!(h.mock("claude").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_streamed_answer_is_checked_whole_before_release_and_fails_over_when_bad() {
    let h = start().await;
    // `echo` streams prose: held back, checked, refused; `claude` streams
    // the schema's JSON, which is released once checked.
    let resp = h
        .chat_with(&request("both", place(), true), &[("x-request-id", "ss-1")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let text = resp.text().await.unwrap();
    // Nothing of the refused stream reached the caller.
    assert!(!text.contains("echo:"), "{text}");
    let said = crate::sse_text(&text, "/choices/0/delta/content");
    assert_eq!(
        serde_json::from_str::<Value>(&said).unwrap_or_default(),
        json!({"location": "Paris"}),
        "{text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let rec = h.record("ss-1").await;
    assert_eq!(rec.attempts[0].outcome.label(), "bad_response", "{rec:?}");
    assert!(
        rec.attempts[0]
            .detail
            .contains("streamed answer is not JSON as its response schema requires"),
        "{rec:?}"
    );
    assert_eq!(rec.usage.map(|u| u.completion_tokens > 0), Some(true));
    h.stop().await;
}

#[tokio::test]
async fn a_stream_no_route_answers_to_schema_is_a_502_naming_the_violation() {
    let h = start().await;
    let strict =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let resp = h.chat(&request("both", strict, true)).await;
    // Nothing was released, so the caller gets an error status, not a
    // broken stream.
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("streamed answer is not JSON"), "{v}");
    assert!(
        message.contains("streamed answer does not match its response schema at ``"),
        "{v}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_responses_stream_with_a_schema_is_checked_too() {
    let h = start().await;
    let body = json!({
        "model": "both",
        "stream": true,
        "input": "where?",
        "text": {"format": {"type": "json_schema", "name": "place", "schema": place()}}
    });
    let resp = h.responses(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "claude-route");
    let text = resp.text().await.unwrap();
    let (last, done) = crate::responses::events(&text).pop().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    let said = crate::responses::output_text(&done["response"]);
    assert_eq!(
        serde_json::from_str::<Value>(&said).unwrap_or_default(),
        json!({"location": "Paris"}),
        "{text}"
    );
    h.stop().await;
}

/// Gemini serves a JSON schema natively (`responseSchema`; the mock
/// answers it), and its answer is checked like any other.
#[tokio::test]
async fn a_gemini_route_answers_natively_and_is_checked() {
    let yaml = crate::translation::NATIVE.replace(
        "supports: { tools: true, streaming: true }\n    price: { input-per-1m: 1.0",
        "supports: { tools: true, streaming: true, json-mode: true }\n    price: { input-per-1m: 1.0",
    );
    let h = signalbox_testkit::Harness::start_formats(
        &yaml,
        &[
            ("claude", MockFormat::Anthropic),
            ("gem", MockFormat::Gemini),
            ("gpt", MockFormat::OpenAi),
        ],
        &[
            ("CLAUDE_KEY", "sk-ant-test".into()),
            ("GEM_KEY", "gem-test-key".into()),
        ],
        MockOptions::default(),
    )
    .await;
    let resp = h.chat(&request("gemini", place(), false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(content).unwrap_or_default(),
        json!({"location": "Paris"}),
        "{v}"
    );
    let sent = h.mock("gem").stats().last_request.unwrap();
    assert_eq!(
        sent["generationConfig"]["responseMimeType"], "application/json",
        "{sent}"
    );
    assert!(
        sent["generationConfig"]["responseSchema"].is_object(),
        "{sent}"
    );
    // A model that breaks the schema: no route left, a 502 naming it.
    h.mock("gem").set_faults(signalbox_mock::Faults {
        quality: Some(signalbox_mock::QualityFault::BreakSchema),
        ..signalbox_mock::Faults::default()
    });
    let resp = h.chat(&request("gemini", place(), false)).await;
    crate::error_says(resp, 502, "at `/location`").await;
    h.stop().await;
}

/// Azure OpenAI is sent the schema natively, and its answer is checked
/// (the mock's chat API answers prose: refused, never returned).
#[tokio::test]
async fn an_azure_route_is_sent_the_schema_and_its_answer_checked() {
    let config = r#"
providers:
  - { name: az, kind: azure-openai, base-url: "${AZ_ROOT}", api-key: { env: AZ_KEY } }
routes:
  - { id: az-route, provider: az, model: my-deployment, region: us, supports: { json-mode: true } }
aliases:
  - { name: az, routes: [az-route] }
"#;
    let mock =
        signalbox_mock::MockProvider::start(signalbox_testkit::any_port(), MockOptions::default())
            .await
            .unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let h = signalbox_testkit::Harness::start(
        config,
        &[],
        &[("AZ_ROOT", root), ("AZ_KEY", "az-secret".into())],
    )
    .await;
    let resp = h.chat(&request("az", place(), false)).await;
    let sent = mock.stats().last_request.unwrap();
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"],
        place(),
        "{sent}"
    );
    crate::error_says(resp, 502, "not JSON as its response schema requires").await;
    h.stop().await;
    mock.shutdown();
}

/// The schema constrains the text answer: a tool call (the caller runs the
/// tool and asks again) is returned unchecked, JSON and streamed.
#[tokio::test]
async fn a_tool_call_is_returned_unchecked_the_schema_is_for_the_text() {
    let h = start().await;
    for stream in [false, true] {
        let mut body = request("both", place(), stream);
        body["messages"][0]["content"] = json!("what is the weather in Paris?");
        body["tools"] = json!([{"type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
        let resp = h.chat(&body).await;
        assert_eq!(resp.status(), 200, "stream {stream}");
        assert_eq!(header(&resp, "x-signalbox-route"), "echo-route");
        let text = resp.text().await.unwrap();
        assert!(text.contains("get_weather"), "{text}");
    }
    h.stop().await;
}
