//! The privacy boundary of `examples/privacy.yaml`: sensitive values never
//! reach the provider, the caller sees its own data back (JSON and streams),
//! secrets are refused by class, and nothing recorded contains a value.

use serde_json::Value;
use signalbox_testkit::{Harness, chat_body, stream_body};

use crate::header;

const PRIVACY_YAML: &str = include_str!("../../../../examples/privacy.yaml");
const EMAIL: &str = "jane.doe@example.com";
const CARD: &str = "4111 1111 1111 1111";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

async fn harness() -> Harness {
    Harness::start(PRIVACY_YAML, &["upstream"], &[]).await
}

fn prompt() -> String {
    format!("Email {EMAIL} about card {CARD}, please.")
}

#[tokio::test]
async fn values_never_reach_the_provider_and_come_back_restored() {
    let h = harness().await;
    let resp = h
        .chat_with(&chat_body("chat", &prompt()), &[("x-request-id", "priv-1")])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let sent = h.mock("upstream").stats().last_request.unwrap().to_string();
    assert!(
        !sent.contains(EMAIL) && !sent.contains(CARD),
        "leaked upstream: {sent}"
    );
    assert!(
        sent.contains("⟦EMAIL_1⟧") && sent.contains("⟦CARD_1⟧"),
        "{sent}"
    );
    // The mock echoes the (tokenised) prompt; the caller sees the originals.
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.contains(EMAIL) && answer.contains(CARD), "{answer}");
    assert!(!answer.contains('⟦'), "{answer}");

    // The decision record says what was found, never the values.
    let rec = h.record("priv-1").await;
    let privacy = rec.privacy.clone().unwrap();
    assert_eq!(
        privacy["external"]["classes"]["email"]["tokenised"], 1,
        "{privacy}"
    );
    assert_eq!(
        privacy["external"]["classes"]["card"]["tokenised"], 1,
        "{privacy}"
    );
    let text = serde_json::to_string(&rec).unwrap();
    // The card's digits in any grouping (not a bare "4111": a random id
    // or the policy version's hex may hold that).
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        !text.contains(EMAIL) && !text.contains(CARD) && !digits.contains("4111111111111111"),
        "{text}"
    );
    h.stop().await;
}

#[tokio::test]
async fn streams_are_restored_even_when_tokens_split_across_chunks() {
    let h = harness().await;
    // Many small chunks: tokens are cut across events.
    h.mock("upstream").set_faults(signalbox_mock::Faults {
        stream_chunks: Some(40),
        ..signalbox_mock::Faults::default()
    });
    let text = h
        .chat(&stream_body("chat", &prompt()))
        .await
        .text()
        .await
        .unwrap();
    let mut content = String::new();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            content.push_str(c);
        }
    }
    assert!(
        content.contains(EMAIL) && content.contains(CARD),
        "{content}\n{text}"
    );
    assert!(!content.contains('⟦'), "{content}");
    assert!(text.contains("data: [DONE]"));
    let sent = h.mock("upstream").stats().last_request.unwrap().to_string();
    assert!(!sent.contains(EMAIL), "{sent}");
    h.stop().await;
}

#[tokio::test]
async fn secrets_are_blocked_by_class_without_echoing_the_value() {
    let h = harness().await;
    let resp = h
        .chat(&chat_body("chat", &format!("deploy with key {AWS_KEY}")))
        .await;
    assert_eq!(resp.status(), 403);
    let body = resp.text().await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "privacy_blocked");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("secret"),
        "{body}"
    );
    assert!(!body.contains(AWS_KEY), "{body}");
    assert_eq!(h.mock("upstream").stats().requests, 0);
    let (_, metrics) = h.get("/metrics").await;
    assert!(!metrics.contains(AWS_KEY) && !metrics.contains(EMAIL));
    h.stop().await;
}

#[tokio::test]
async fn a_session_keeps_its_tokens_across_requests() {
    let h = harness().await;
    let session = [("x-signalbox-session", "s-1")];
    h.chat_with(&chat_body("chat", &format!("first {EMAIL}")), &session)
        .await;
    let first = h.mock("upstream").stats().last_request.unwrap().to_string();
    h.chat_with(
        &chat_body("chat", &format!("again {EMAIL} and bob@example.org")),
        &session,
    )
    .await;
    let second = h.mock("upstream").stats().last_request.unwrap().to_string();
    assert!(
        first.contains("⟦EMAIL_1⟧") && second.contains("⟦EMAIL_1⟧"),
        "{second}"
    );
    assert!(second.contains("⟦EMAIL_2⟧"), "{second}");
    assert_eq!(
        header(
            &h.chat(&chat_body("chat", "plain")).await,
            "x-signalbox-route"
        ),
        "upstream"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_matched_rule_brings_its_own_boundary() {
    let yaml = format!(
        "{PRIVACY_YAML}\npolicy:\n  rules:\n    - name: customer-data\n      when: {{ headers: {{ x-data: customer }} }}\n      privacy:\n        - zone: external\n          protect: {{ classes: {{ email: redact, card: block }} }}\n"
    );
    let h = Harness::start(&yaml, &["upstream"], &[]).await;
    let resp = h
        .chat_with(
            &chat_body("chat", &format!("write to {EMAIL}")),
            &[("x-data", "customer")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("upstream").stats().last_request.unwrap().to_string();
    assert!(
        sent.contains("[REDACTED_EMAIL]") && !sent.contains(EMAIL),
        "{sent}"
    );
    // Redaction is irreversible: the caller gets the placeholder back.
    let body: Value = resp.json().await.unwrap();
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.contains("[REDACTED_EMAIL]"), "{answer}");
    // The same card the global boundary tokenises, this rule blocks.
    let blocked = h
        .chat_with(&chat_body("chat", &prompt()), &[("x-data", "customer")])
        .await;
    assert_eq!(blocked.status(), 403);
    h.stop().await;
}

#[tokio::test]
async fn restored_and_invented_tokens_are_counted_and_invented_ones_left_alone() {
    let h = harness().await;
    // `⟦EMAIL_9⟧` was never issued: the echoing mock "invents" it.
    let resp = h
        .chat(&chat_body("chat", &format!("mail {EMAIL} and ⟦EMAIL_9⟧")))
        .await;
    let body: Value = resp.json().await.unwrap();
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        answer.contains(EMAIL) && answer.contains("⟦EMAIL_9⟧"),
        "{answer}"
    );
    let (_, metrics) = h.get("/metrics").await;
    assert!(
        metrics.contains(r#"signalbox_privacy_tokens_total{result="restored"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"signalbox_privacy_tokens_total{result="unknown"} 1"#));
    h.stop().await;
}

/// The streamed answer's text, from its content deltas.
fn streamed_content(text: &str) -> String {
    let mut content = String::new();
    for data in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        if let Some(c) = v["choices"][0]["delta"]["content"].as_str() {
            content.push_str(c);
        }
    }
    content
}

#[tokio::test]
async fn tokens_escaped_as_python_writes_json_are_restored_in_json_and_streams() {
    let h = harness().await;
    // `json.dumps` by default: `⟦EMAIL_1⟧` travels as `\u27e6EMAIL_1\u27e7`.
    h.mock("upstream").set_faults(signalbox_mock::Faults {
        escape_non_ascii: true,
        stream_chunks: Some(40),
        ..signalbox_mock::Faults::default()
    });
    let prompt = format!("{} — ünïcödé too", prompt());
    let resp = h.chat(&chat_body("chat", &prompt)).await;
    assert_eq!(resp.status(), 200);
    let raw = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&raw).unwrap();
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.contains(EMAIL) && answer.contains(CARD), "{raw}");
    assert!(answer.contains("— ünïcödé too"), "{answer}");
    assert!(!answer.contains('⟦'), "{answer}");

    let text = h
        .chat(&stream_body("chat", &prompt))
        .await
        .text()
        .await
        .unwrap();
    let content = streamed_content(&text);
    assert!(
        content.contains(EMAIL) && content.contains(CARD),
        "{content}\n{text}"
    );
    assert!(content.contains("— ünïcödé too"), "{content}");
    assert!(!content.contains('⟦'), "{content}");
    assert!(!text.to_ascii_lowercase().contains("\\u27e6"), "{text}");
    h.stop().await;
}
