//! Native egress end to end: OpenAI- and Anthropic-format clients served by
//! Anthropic- and Gemini-format upstreams (the in-process mock speaking each
//! format), translated both ways — JSON answers, SSE streams and tool calls.
//! Failover, records and Bedrock live in `translation_errors` and
//! `translation_bedrock`; the harness helpers here are shared with them.

use std::time::Duration;

use serde_json::{Value, json};
use signalbox_core::DecisionRecord;
use signalbox_mock::{MockFormat, MockOptions};
use signalbox_testkit::{Harness, chat_body, stream_body};

use crate::header;

/// An Anthropic, a Gemini and an OpenAI-compatible provider, each behind
/// its own alias, plus `mixed` = [claude-route, gpt-route] for failover.
/// Native routes declare tools, prices and (claude, gpt) zero retention.
pub const NATIVE: &str = r#"
providers:
  - name: claude
    kind: anthropic
    base-url: ${CLAUDE_URL}
    api-key: { env: CLAUDE_KEY }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: gem
    kind: gemini
    base-url: ${GEM_URL}
    api-key: { env: GEM_KEY }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: gpt
    kind: openai-compatible
    base-url: ${GPT_URL}
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - id: claude-route
    provider: claude
    model: claude-test
    version: claude-test-2025
    region: us
    supports: { tools: true, streaming: true }
    price: { input-per-1m: 3.0, output-per-1m: 15.0 }
    retention: zero
  - id: gemini-route
    provider: gem
    model: gemini-test
    region: us
    supports: { tools: true, streaming: true }
    price: { input-per-1m: 1.0, output-per-1m: 2.0 }
  - id: gpt-route
    provider: gpt
    model: gpt-test
    region: us
    supports: { tools: true, streaming: true }
    retention: zero
aliases:
  - name: claude
    routes: [claude-route]
  - name: gemini
    routes: [gemini-route]
  - name: gpt
    routes: [gpt-route]
  - name: mixed
    routes: [claude-route, gpt-route]
"#;

/// Starts one mock per `(name, format)` and a gateway (with a decision log).
pub async fn start(yaml: &str, mocks: &[(&str, MockFormat)], extra: &[(&str, String)]) -> Harness {
    Harness::start_formats(yaml, mocks, extra, MockOptions::default()).await
}

/// The standard native harness.
pub async fn native() -> Harness {
    start(
        NATIVE,
        &[
            ("claude", MockFormat::Anthropic),
            ("gem", MockFormat::Gemini),
            ("gpt", MockFormat::OpenAi),
        ],
        &[
            ("CLAUDE_KEY", "sk-ant-test".into()),
            ("GEM_KEY", "gem-test-key".into()),
        ],
    )
    .await
}

/// The decision record of `id`, waiting (bounded) for it to be written:
/// stream records are written when the stream ends.
pub async fn record(h: &Harness, id: &str) -> DecisionRecord {
    let log = h.gateway.gateway().decision_log().unwrap().clone();
    for _ in 0..200 {
        log.flush().await;
        if let Some(r) = log
            .reader()
            .unwrap()
            .find(id, None)
            .unwrap()
            .into_iter()
            .next()
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no decision record {id}");
}

/// The JSON `data:` payloads of an SSE body (without `[DONE]`).
pub fn sse_json(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("bad event {d}: {e}")))
        .collect()
}

/// The content deltas of OpenAI chunks, joined.
pub fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// Checks the framing of a translated OpenAI stream and returns its chunks.
pub fn openai_stream(text: &str) -> Vec<Value> {
    assert!(
        text.trim_end().ends_with("data: [DONE]"),
        "no [DONE] at the end:\n{text}"
    );
    assert!(
        !text.contains("signalbox-usage"),
        "private usage comment leaked:\n{text}"
    );
    let chunks = sse_json(text);
    assert!(!chunks.is_empty(), "{text}");
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
    }
    chunks
}

/// The finish reason of the stream (the last one given).
fn finish_reason(chunks: &[Value]) -> Value {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0].get("finish_reason"))
        .rfind(|r| !r.is_null())
        .cloned()
        .unwrap_or(Value::Null)
}

/// A request offering `get_weather` and asking about the weather.
pub fn weather(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}
        }}]
    })
}

async fn json_answer(h: &Harness, alias: &str, mock: &str, model_header: &str) {
    let resp = h.chat(&chat_body(alias, "hello there")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-provider"), mock);
    assert_eq!(header(&resp, "x-signalbox-model"), model_header);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        format!("[{mock}] echo: hello there")
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let usage = &v["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0, "{v}");
    // "[mock] echo: hello there" is four words.
    assert_eq!(usage["completion_tokens"], 4, "{v}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 4
    );
}

async fn streams(h: &Harness, alias: &str, mock: &str) {
    let resp = h.chat(&stream_body(alias, "stream this")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    assert_eq!(header(&resp, "x-signalbox-provider"), mock);
    let chunks = openai_stream(&resp.text().await.unwrap());
    assert_eq!(
        streamed_text(&chunks),
        format!("[{mock}] echo: stream this")
    );
    assert_eq!(finish_reason(&chunks), "stop");
    assert!(
        chunks.iter().all(|c| c["usage"].is_null()),
        "usage chunk without include_usage: {chunks:?}"
    );

    let mut body = stream_body(alias, "count me");
    body["stream_options"] = json!({"include_usage": true});
    let text = h.chat(&body).await.text().await.unwrap();
    let chunks = openai_stream(&text);
    assert_eq!(streamed_text(&chunks), format!("[{mock}] echo: count me"));
    let usage: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["usage"])
        .filter(|u| !u.is_null())
        .collect();
    assert_eq!(usage.len(), 1, "{text}");
    assert!(usage[0]["prompt_tokens"].as_u64().unwrap() > 0, "{text}");
    assert_eq!(usage[0]["completion_tokens"], 4, "{text}");
}

async fn tool_calls(h: &Harness, alias: &str) {
    let resp = h.chat(&weather(alias, false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert!(!call["id"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Paris"}));

    let text = h.chat(&weather(alias, true)).await.text().await.unwrap();
    let chunks = openai_stream(&text);
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert!(!calls.is_empty(), "{text}");
    assert!(calls.iter().all(|c| c["index"] == 0), "{text}");
    assert_eq!(calls[0]["function"]["name"], "get_weather", "{text}");
    assert!(calls[0]["id"].is_string(), "{text}");
    let joined: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    let args: Value = serde_json::from_str(&joined).unwrap_or_else(|e| panic!("{joined}: {e}"));
    assert_eq!(args, json!({"location": "Paris"}));
    assert_eq!(finish_reason(&chunks), "tool_calls", "{text}");
}

#[tokio::test]
async fn openai_client_to_anthropic_upstream_json() {
    let h = native().await;
    json_answer(&h, "claude", "claude", "claude-test-2025").await;
    // The upstream got an Anthropic Messages body with our key and version.
    let stats = h.mock("claude").stats();
    assert_eq!(stats.requests, 1);
    let sent = stats.last_request.unwrap();
    assert_eq!(sent["model"], "claude-test");
    assert!(sent["max_tokens"].as_u64().unwrap() > 0, "{sent}");
    assert_eq!(sent["messages"][0]["role"], "user");
    assert_eq!(stats.last_headers["x-api-key"], "sk-ant-test");
    assert!(stats.last_headers.contains_key("anthropic-version"));
    assert!(!stats.last_headers.contains_key("authorization"));
    h.stop().await;
}

#[tokio::test]
async fn openai_client_to_anthropic_upstream_stream() {
    let h = native().await;
    streams(&h, "claude", "claude").await;
    assert_eq!(h.mock("claude").stats().streams_completed, 2);
    h.stop().await;
}

#[tokio::test]
async fn openai_client_to_anthropic_upstream_tool_calls() {
    let h = native().await;
    tool_calls(&h, "claude").await;
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert_eq!(sent["tools"][0]["name"], "get_weather", "{sent}");
    assert!(sent["tools"][0]["input_schema"].is_object(), "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn openai_client_to_gemini_upstream_json() {
    let h = native().await;
    json_answer(&h, "gemini", "gem", "gemini-test").await;
    let stats = h.mock("gem").stats();
    assert_eq!(stats.requests, 1);
    let sent = stats.last_request.unwrap();
    assert_eq!(sent["contents"][0]["role"], "user", "{sent}");
    assert_eq!(sent["contents"][0]["parts"][0]["text"], "hello there");
    assert_eq!(stats.last_headers["x-goog-api-key"], "gem-test-key");
    h.stop().await;
}

#[tokio::test]
async fn openai_client_to_gemini_upstream_stream() {
    let h = native().await;
    streams(&h, "gemini", "gem").await;
    assert_eq!(h.mock("gem").stats().streams_started, 2);
    h.stop().await;
}

#[tokio::test]
async fn openai_client_to_gemini_upstream_tool_calls() {
    let h = native().await;
    tool_calls(&h, "gemini").await;
    let sent = h.mock("gem").stats().last_request.unwrap();
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"], "get_weather",
        "{sent}"
    );
    h.stop().await;
}

fn anthropic_message(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "system": "be brief",
        "stream": stream,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    })
}

async fn anthropic_client(h: &Harness, alias: &str, mock: &str) {
    let resp = h.messages(&anthropic_message(alias, false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-provider"), mock);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["content"][0]["text"], format!("[{mock}] echo: hello"));
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["usage"]["output_tokens"], 3, "{v}");

    let resp = h.messages(&anthropic_message(alias, true)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for event in [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(
            text.contains(&format!("event: {event}\n")),
            "{event} missing:\n{text}"
        );
    }
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(!text.contains("signalbox-usage"), "{text}");
    let events = sse_json(&text);
    let said: String = events
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(said, format!("[{mock}] echo: hello"));
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn", "{text}");
    assert_eq!(events.last().unwrap()["type"], "message_stop");
}

#[tokio::test]
async fn anthropic_client_to_anthropic_upstream() {
    let h = native().await;
    anthropic_client(&h, "claude", "claude").await;
    // The system prompt travels as Anthropic's top-level `system`.
    let sent = h.mock("claude").stats().last_request.unwrap();
    let system = sent["system"].to_string();
    assert!(system.contains("be brief"), "{sent}");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["max_tokens"], 64, "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn anthropic_client_to_gemini_upstream() {
    let h = native().await;
    anthropic_client(&h, "gemini", "gem").await;
    let sent = h.mock("gem").stats().last_request.unwrap();
    assert_eq!(
        sent["systemInstruction"]["parts"][0]["text"], "be brief",
        "{sent}"
    );
    h.stop().await;
}

#[tokio::test]
async fn tool_results_and_sampling_are_translated_for_anthropic_and_noted() {
    let h = native().await;
    let mut body = weather("claude", false);
    body["seed"] = json!(7);
    body["temperature"] = json!(1.7);
    body["messages"] = json!([
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}
        }]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        {"role": "user", "content": "thanks, and now?"}
    ]);
    let resp = h.chat_with(&body, &[("x-request-id", "notes-1")]).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[claude] echo: thanks, and now?"
    );
    let sent = h.mock("claude").stats().last_request.unwrap();
    assert!(sent.get("seed").is_none(), "{sent}");
    assert_eq!(sent["temperature"], 1.0, "{sent}");
    let msgs = sent["messages"].as_array().unwrap();
    let tool_use = msgs
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .find(|b| b["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use: {sent}"));
    assert_eq!(tool_use["id"], "call_1");
    assert_eq!(tool_use["input"], json!({"location": "Paris"}));
    let result = msgs
        .iter()
        .filter(|m| m["role"] == "user")
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .find(|b| b["type"] == "tool_result")
        .unwrap_or_else(|| panic!("no tool_result: {sent}"));
    assert_eq!(result["tool_use_id"], "call_1");
    assert!(
        result["content"].to_string().contains("sunny, 21C"),
        "{sent}"
    );

    let rec = record(&h, "notes-1").await;
    let action = |field: &str| {
        rec.translation
            .iter()
            .find(|n| n.field == field)
            .map(|n| n.action.clone())
    };
    assert_eq!(action("sampling.seed").as_deref(), Some("dropped"));
    assert_eq!(
        action("sampling.temperature").as_deref(),
        Some("translated")
    );
    h.stop().await;
}
