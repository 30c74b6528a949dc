//! Gateway integration tests: the real server on 127.0.0.1:0 against
//! in-process mock providers. One test binary (faster linking), one module
//! per feature.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod anthropic;
mod anthropic_native;
mod auth_scheme;
mod breakers;
mod budget;
mod canary;
mod canary_evals;
mod client_conns;
mod cohere;
mod decisions_filters;
mod degrade;
mod embeddings;
mod embeddings_bedrock;
mod endpoints;
mod errors;
mod failover;
mod fairness;
mod max_output;
mod metrics;
mod operator;
mod pin;
mod policy;
mod privacy;
mod prompts;
mod quality;
mod quality_schedule;
mod quality_sticky;
mod quality_streams;
mod redis_state;
mod reload;
mod reload_scale;
mod reload_secrets;
mod request_ids;
mod residency;
mod resilience;
mod responses;
mod responses_native;
mod responses_reasoning;
mod responses_structured;
mod roundtrip;
mod shadow;
mod shared_counts;
mod shared_quality;
mod shared_scores;
mod stream_continue;
mod stream_ends;
mod streaming;
mod structured;
mod structured_anthropic;
mod translation;
mod translation_bedrock;
mod translation_errors;
mod unsupported_fields;
mod upstream_errors;
mod what_changed;

/// Two OpenAI-compatible providers behind alias `chat` (primary first), plus
/// `solo` on the primary alone. First-byte timeout is short so hang tests are
/// quick. `${PRIMARY_URL}`/`${SECONDARY_URL}` come from the harness.
pub const TWO_ROUTES: &str = r#"
server:
  max-body-bytes: ${MAX_BODY:-65536}
providers:
  - name: primary
    kind: openai-compatible
    base-url: ${PRIMARY_URL}
    api-key: { env: PRIMARY_KEY }
    headers: { x-team: platform }
    timeouts: { connect: 500ms, first-byte: 700ms, total: 10s }
  - name: secondary
    kind: openai-compatible
    base-url: ${SECONDARY_URL}
    timeouts: { connect: 500ms, first-byte: 700ms, total: 10s }
routes:
  - id: primary-route
    provider: primary
    model: upstream-model-a
    version: upstream-model-a-2025-01
    region: us
  - id: secondary-route
    provider: secondary
    model: upstream-model-b
    region: eu
aliases:
  - name: chat
    routes: [primary-route, secondary-route]
  - name: solo
    routes: [primary-route]
"#;

/// Starts the standard two-route harness.
pub async fn two_routes() -> signalbox_testkit::Harness {
    signalbox_testkit::Harness::start(
        TWO_ROUTES,
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "sk-test-primary".into())],
    )
    .await
}

/// The text a stream's JSON `data:` events carry at `pointer`, joined.
pub fn sse_text(body: &str, pointer: &str) -> String {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v.pointer(pointer)
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// Reads a header as text ("" when absent).
pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Reads an error answer: asserts its status and that its message says
/// `says` (either error shape: `error.message`), and gives back the body.
pub async fn error_says(resp: reqwest::Response, status: u16, says: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status);
    let v: serde_json::Value = resp.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{says:?} not in {v}");
    v
}
