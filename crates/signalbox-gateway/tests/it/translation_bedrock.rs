//! Bedrock egress end to end against a tiny in-test Converse stub: requests
//! are SigV4-signed with the configured credentials, Converse answers and
//! ConverseStream event-stream frames come back in the OpenAI shape.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};
use signalbox_adapters::bedrock::{HeaderValue, encode_frame};
use signalbox_testkit::{Harness, any_port, chat_body, stream_body};

use crate::header;
use crate::translation::{openai_stream, record, start, streamed_text};

const BEDROCK: &str = r#"
providers:
  - name: aws
    kind: bedrock
    base-url: ${BEDROCK_URL}
    aws-region: us-east-1
    aws-credentials:
      access-key-id: { env: TEST_AWS_AKID }
      secret-access-key: { env: TEST_AWS_SECRET }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - id: bedrock-route
    provider: aws
    model: "anthropic.claude-3-haiku-20240307-v1:0"
    region: us
    supports: { streaming: true, json-mode: true }
    price: { input-per-1m: 1.0, output-per-1m: 5.0 }
aliases:
  - name: bedrock
    routes: [bedrock-route]
"#;

const MODEL_ID: &str = "anthropic.claude-3-haiku-20240307-v1:0";

/// One request the stub received: action, model id, headers, JSON body.
#[derive(Debug, Clone)]
struct Call {
    action: &'static str,
    model: String,
    headers: HeaderMap,
    body: Value,
}

type Seen = Arc<Mutex<Vec<Call>>>;

fn remember(seen: &Seen, action: &'static str, model: String, headers: HeaderMap, body: &[u8]) {
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    seen.lock().push(Call {
        action,
        model,
        headers,
        body,
    });
}

async fn converse(
    State(seen): State<Seen>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    remember(&seen, "converse", model, headers, &body);
    axum::Json(json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "hi from bedrock"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
    }))
    .into_response()
}

fn frame(event: &str, payload: &Value) -> Vec<u8> {
    encode_frame(
        &[
            (":event-type", HeaderValue::String(event.into())),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("event".into())),
        ],
        payload.to_string().as_bytes(),
    )
}

async fn converse_stream(
    State(seen): State<Seen>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    remember(&seen, "converse-stream", model, headers, &body);
    let frames = vec![
        frame("messageStart", &json!({"role": "assistant"})),
        frame(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "hi from"}}),
        ),
        frame(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": " bedrock"}}),
        ),
        frame("contentBlockStop", &json!({"contentBlockIndex": 0})),
        frame("messageStop", &json!({"stopReason": "end_turn"})),
        frame(
            "metadata",
            &json!({"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7},
                    "metrics": {"latencyMs": 10}}),
        ),
    ];
    // One frame per body chunk: the gateway must reassemble across reads.
    let chunks = futures::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
    (
        [(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// Starts the stub and a gateway whose Bedrock provider points at it.
async fn bedrock() -> (Harness, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/model/{model}/converse", post(converse))
        .route("/model/{model}/converse-stream", post(converse_stream))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let h = start(
        BEDROCK,
        &[],
        &[
            ("BEDROCK_URL", format!("http://{addr}")),
            ("TEST_AWS_AKID", "AKID".into()),
            ("TEST_AWS_SECRET", "test-secret-key".into()),
        ],
    )
    .await;
    (h, seen)
}

/// Checks the one call the stub received was signed with our credentials.
fn assert_signed(seen: &Seen, action: &str) -> Call {
    let calls = seen.lock().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = calls.into_iter().next().unwrap();
    assert_eq!(call.action, action);
    assert_eq!(call.model, MODEL_ID);
    let text = |name: &str| {
        call.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let auth = text("authorization");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"),
        "{auth}"
    );
    assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
    assert!(auth.contains("Signature="), "{auth}");
    assert!(!auth.contains("test-secret-key"), "{auth}");
    assert!(!text("x-amz-date").is_empty(), "{:?}", call.headers);
    assert_eq!(call.body["messages"][0]["role"], "user", "{}", call.body);
    assert_eq!(
        call.body["messages"][0]["content"][0]["text"], "hello",
        "{}",
        call.body
    );
    call
}

#[tokio::test]
async fn bedrock_converse_is_signed_and_answered_in_openai_shape() {
    let (h, seen) = bedrock().await;
    let resp = h
        .chat_with(&chat_body("bedrock", "hello"), &[("x-request-id", "br-1")])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-provider"), "aws");
    assert_eq!(header(&resp, "x-signalbox-route"), "bedrock-route");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "hi from bedrock");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 7);
    assert_signed(&seen, "converse");
    let rec = record(&h, "br-1").await;
    let usage = rec.usage.expect("usage recorded");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (3, 4));
    assert!(rec.cost_usd.expect("cost recorded") > 0.0);
    h.stop().await;
}

#[tokio::test]
async fn bedrock_converse_stream_frames_become_openai_chunks() {
    let (h, seen) = bedrock().await;
    let mut body = stream_body("bedrock", "hello");
    body["stream_options"] = json!({"include_usage": true});
    let resp = h.chat_with(&body, &[("x-request-id", "br-s")]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let text = resp.text().await.unwrap();
    let chunks = openai_stream(&text);
    assert_eq!(streamed_text(&chunks), "hi from bedrock", "{text}");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")], "{text}");
    let usage: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["usage"])
        .filter(|u| !u.is_null())
        .collect();
    assert_eq!(usage.len(), 1, "{text}");
    assert_eq!(usage[0]["prompt_tokens"], 3);
    assert_eq!(usage[0]["completion_tokens"], 4);
    let call = assert_signed(&seen, "converse-stream");
    assert_eq!(
        call.headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        "application/vnd.amazon.eventstream"
    );
    let rec = record(&h, "br-s").await;
    let usage = rec.usage.expect("stream usage recorded");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (3, 4));
    h.stop().await;
}

/// A JSON schema reaches Bedrock as one forced tool (Converse's
/// `toolConfig`), and the answer is checked: the stub answers prose, not
/// the tool's JSON, so nothing is returned but a 502 naming why.
#[tokio::test]
async fn a_json_schema_is_a_forced_tool_on_bedrock_and_its_answer_checked() {
    let (h, seen) = bedrock().await;
    let mut body = chat_body("bedrock", "hello");
    let schema = json!({"type": "object", "properties": {"location": {"type": "string"}},
        "required": ["location"]});
    body["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "place", "schema": schema}});
    let resp = h.chat_with(&body, &[("x-request-id", "br-schema")]).await;
    crate::error_says(resp, 502, "not JSON as its response schema requires").await;
    let call = assert_signed(&seen, "converse");
    let tools = &call.body["toolConfig"];
    assert_eq!(
        tools["tools"][0]["toolSpec"]["inputSchema"]["json"], schema,
        "{}",
        call.body
    );
    assert!(
        tools["toolChoice"]["tool"]["name"].is_string(),
        "{}",
        call.body
    );
    h.stop().await;
}
