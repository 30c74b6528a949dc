//! OpenAI Responses ingress: `POST /v1/responses` through the same policy,
//! answered as a Response object or the Responses event stream, whatever
//! the route's provider speaks.

use serde_json::{Value, json};
use signalbox_mock::{Faults, MockFormat, MockOptions};

use crate::{header, two_routes};

fn request(stream: bool) -> Value {
    json!({
        "model": "chat",
        "instructions": "be brief",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}],
        "max_output_tokens": 64,
        "stream": stream
    })
}

/// Every `(event, data)` of a Responses stream.
pub(crate) fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|e| {
            let (name, data) = e.split_once('\n')?;
            let data = serde_json::from_str(data.strip_prefix("data: ")?).ok()?;
            Some((name.strip_prefix("event: ")?.to_owned(), data))
        })
        .collect()
}

/// The text of a Response object's message items.
pub(crate) fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_response_is_served_through_the_policy_and_marked_when_degraded() {
    let h = two_routes().await;
    let resp = h.responses(&request(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response", "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(output_text(&v), "[primary] echo: hello", "{v}");
    assert!(
        v["usage"]["input_tokens"].as_u64().unwrap_or_default() > 0,
        "{v}"
    );
    // The provider got an OpenAI chat body, instructions first.
    let sent = h.mock("primary").stats().last_request.unwrap();
    assert_eq!(sent["messages"][0]["role"], "system", "{sent}");
    assert_eq!(sent["max_tokens"], 64, "{sent}");

    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h.responses(&request(false)).await;
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(output_text(&v), "[secondary] echo: hello", "{v}");
    assert_eq!(v["signalbox"]["degraded"], json!(["fallback-route"]), "{v}");
    h.stop().await;
}

#[tokio::test]
async fn a_stream_is_the_responses_event_sequence_ending_with_the_whole_response() {
    let h = two_routes().await;
    let resp = h.responses(&request(true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    assert_eq!(
        evs.first().map(|(n, _)| n.as_str()),
        Some("response.created"),
        "{text}"
    );
    let said: String = evs
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert_eq!(said, "[primary] echo: hello", "{text}");
    let (last, done) = evs.last().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    assert_eq!(output_text(&done["response"]), said, "{text}");
    assert!(
        done["response"]["usage"]["output_tokens"]
            .as_u64()
            .unwrap_or_default()
            > 0,
        "{text}"
    );
    assert!(
        !text.contains("[DONE]") && !text.contains("chat.completion"),
        "{text}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_function_call_comes_back_as_an_item_and_its_output_goes_upstream() {
    let yaml = crate::TWO_ROUTES
        .replace(
            "    region: us\n",
            "    region: us\n    supports: { tools: true }\n",
        )
        .replace(
            "    region: eu\n",
            "    region: eu\n    supports: { tools: true }\n",
        );
    let h = signalbox_testkit::Harness::start(
        &yaml,
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "sk-test-primary".into())],
    )
    .await;
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    let body = json!({"model": "chat", "input": "what is the weather?", "tools": tools});
    let v: Value = h.responses(&body).await.json().await.unwrap();
    let call = v["output"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type"] == "function_call")
        .cloned()
        .unwrap_or_default();
    assert_eq!(call["name"], "get_weather", "{v}");
    assert_eq!(call["arguments"], r#"{"location":"Paris"}"#, "{v}");

    let body = json!({"model": "chat", "tools": tools, "input": [
        {"role": "user", "content": "what is the weather?"},
        call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18°C"}
    ]});
    let resp = h.responses(&body).await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("primary").stats().last_request.unwrap();
    let messages = sent["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["name"], "get_weather",
        "{sent}"
    );
    assert_eq!(messages[2]["role"], "tool", "{sent}");
    assert_eq!(messages[2]["content"], "18°C", "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn stored_state_is_refused_naming_the_field_in_openais_error_shape() {
    let h = two_routes().await;
    let mut body = request(false);
    body["previous_response_id"] = json!("resp_123");
    let resp = h.responses(&body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "previous_response_id", "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}

const ANTHROPIC: &str = r#"
providers:
  - name: claude
    kind: anthropic
    base-url: ${CLAUDE_URL}
routes:
  - id: claude-route
    provider: claude
    model: claude-test
    region: us
aliases:
  - name: chat
    routes: [claude-route]
"#;

/// An Anthropic route's stream is decoded once and written as Responses
/// events; its usage ends the response.
#[tokio::test]
async fn an_anthropic_route_serves_a_responses_client() {
    let h = signalbox_testkit::Harness::start_formats(
        ANTHROPIC,
        &[("claude", MockFormat::Anthropic)],
        &[],
        MockOptions::default(),
    )
    .await;
    let v: Value = h.responses(&request(false)).await.json().await.unwrap();
    assert_eq!(output_text(&v), "[claude] echo: hello", "{v}");
    let text = h.responses(&request(true)).await.text().await.unwrap();
    let evs = events(&text);
    let (last, done) = evs.last().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    assert_eq!(
        output_text(&done["response"]),
        "[claude] echo: hello",
        "{text}"
    );
    assert!(
        done["response"]["usage"]["input_tokens"]
            .as_u64()
            .unwrap_or_default()
            > 0,
        "{text}"
    );
    h.stop().await;
}

/// Legacy completions: the prompt answered by the chat route, written as a
/// `text_completion` (JSON, or chunks ending with `[DONE]`).
#[tokio::test]
async fn legacy_completions_are_answered_by_chat_routes() {
    let h = two_routes().await;
    let post = |body: Value| h.client.post(h.url("/v1/completions")).json(&body).send();
    let v: Value = post(json!({"model": "chat", "prompt": "hello", "max_tokens": 20}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion", "{v}");
    assert_eq!(v["choices"][0]["text"], "[primary] echo: hello", "{v}");
    let sent = h.mock("primary").stats().last_request.unwrap();
    assert_eq!(sent["messages"][0]["content"], "hello", "{sent}");

    let text = post(json!({"model": "chat", "prompt": "hello", "stream": true}))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let said = crate::sse_text(&text, "/choices/0/text");
    assert_eq!(said, "[primary] echo: hello", "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let resp = post(json!({"model": "chat", "prompt": "x", "suffix": "y"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "suffix", "{v}");
    h.stop().await;
}
