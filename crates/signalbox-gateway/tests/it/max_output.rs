//! A client's `max_tokens` above a route's `max-output-tokens`: with
//! `max-output: clamp` (the default) the route serves, sent its own limit,
//! and the header and the decision record say so; with `refuse` the route
//! is not a candidate. The client is pydantic-ai's Anthropic model (default
//! `max_tokens` 16,384) against `examples/translation.yaml`.

use serde_json::{Value, json};
use signalbox_mock::MockFormat;

use crate::header;
use crate::translation::{record, start};

const TRANSLATION: &str = include_str!("../../../../examples/translation.yaml");
const CLAMPED: &str = "x-signalbox-max-tokens-clamped";

/// `examples/translation.yaml` with the Claude route's output limit as it
/// was declared before the published 64K: 8,192.
fn with_claude_limit(extra: &str) -> String {
    TRANSLATION.replace(
        "    max-output-tokens: 64000\n",
        &format!("    max-output-tokens: 8192\n{extra}"),
    )
}

async fn harness(yaml: &str) -> signalbox_testkit::Harness {
    start(
        yaml,
        &[
            ("anthropic", MockFormat::Anthropic),
            ("openai", MockFormat::OpenAi),
        ],
        &[],
    )
    .await
}

/// What pydantic-ai's Anthropic model sends by default.
fn pydantic_ai(max_tokens: u64) -> Value {
    json!({
        "model": "chat-claude",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    })
}

async fn messages(h: &signalbox_testkit::Harness, body: &Value, id: &str) -> reqwest::Response {
    h.client
        .post(h.url("/v1/messages"))
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_default_max_tokens_above_the_route_limit_is_clamped_and_said() {
    let h = harness(&with_claude_limit("")).await;
    let resp = messages(&h, &pydantic_ai(16384), "clamp-1").await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    assert_eq!(header(&resp, CLAMPED), "16384->8192");
    let sent = h.mock("anthropic").stats().last_request.unwrap();
    assert_eq!(sent["max_tokens"], 8192, "{sent}");
    let rec = record(&h, "clamp-1").await;
    let note = rec
        .translation
        .iter()
        .find(|n| n.field == "max_tokens")
        .unwrap_or_else(|| panic!("no clamp note: {:?}", rec.translation));
    assert_eq!(note.action, "translated");
    assert!(note.reason.contains("16384") && note.reason.contains("8192"));

    // Within the limit: sent as asked, no header.
    let resp = messages(&h, &pydantic_ai(1000), "clamp-2").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get(CLAMPED).is_none());
    assert_eq!(
        h.mock("anthropic").stats().last_request.unwrap()["max_tokens"],
        1000
    );
    h.stop().await;
}

#[tokio::test]
async fn an_openai_client_on_a_passthrough_route_is_clamped_too() {
    let h = harness(TRANSLATION).await;
    let body = json!({
        "model": "chat-gpt",
        "max_completion_tokens": 100000,
        "messages": [{"role": "user", "content": "hello"}]
    });
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, CLAMPED), "100000->16384");
    let sent = h.mock("openai").stats().last_request.unwrap();
    assert_eq!(sent["max_completion_tokens"], 16384, "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn the_shipped_example_serves_the_default_unclamped() {
    let h = harness(TRANSLATION).await;
    let resp = messages(&h, &pydantic_ai(16384), "shipped-1").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get(CLAMPED).is_none());
    assert_eq!(
        h.mock("anthropic").stats().last_request.unwrap()["max_tokens"],
        16384
    );
    h.stop().await;
}

#[tokio::test]
async fn refuse_keeps_the_route_out_of_the_candidates() {
    let h = harness(&with_claude_limit("    max-output: refuse\n")).await;
    let resp = messages(&h, &pydantic_ai(16384), "refuse-1").await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let v: Value = resp.json().await.unwrap();
    assert!(
        v.to_string().contains("max_output_tokens"),
        "refusal does not name the limit: {v}"
    );
    assert_eq!(h.mock("anthropic").stats().requests, 0);
    h.stop().await;
}
