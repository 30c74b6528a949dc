//! Structured outputs passed through: a Responses request whose
//! `text.format` is a JSON schema, sent as written to a route serving the
//! Responses API, has its answer (a Response object, or the typed event
//! stream read whole first) checked against the schema before it is
//! returned. One that breaks it is a bad answer: the next eligible route
//! serves, marked; with none left, a 502 names the violation. The mock's
//! Responses API answers a schema with the canned `{"location":"Paris"}`,
//! and its `break_schema` quality fault with `{"location": 42}`.

use serde_json::{Value, json};
use signalbox_mock::{Faults, QualityFault};
use signalbox_testkit::Harness;

use crate::header;
use crate::responses::{events, output_text};

const YAML: &str = r#"
providers:
  - { name: native, kind: openai-compatible, base-url: "${NATIVE_URL}" }
  - { name: spare, kind: openai-compatible, base-url: "${SPARE_URL}" }
routes:
  - { id: native-route, provider: native, model: gpt-native, region: us,
      endpoint: [chat, responses], supports: { json-mode: true } }
  - { id: spare-route, provider: spare, model: gpt-spare, region: us,
      endpoint: [chat, responses], supports: { json-mode: true } }
aliases:
  - { name: pair, routes: [native-route, spare-route] }
"#;

async fn harness() -> Harness {
    Harness::start(YAML, &["native", "spare"], &[]).await
}

fn place() -> Value {
    json!({"type": "object", "properties": {"location": {"type": "string"}},
        "required": ["location"]})
}

fn body(stream: bool) -> Value {
    json!({
        "model": "pair",
        "input": "where?",
        "stream": stream,
        "text": {"format": {"type": "json_schema", "name": "place", "schema": place(),
            "strict": true}}
    })
}

fn break_schema(h: &Harness, mock: &str) {
    h.mock(mock).set_faults(Faults {
        quality: Some(QualityFault::BreakSchema),
        ..Faults::default()
    });
}

async fn send(h: &Harness, stream: bool, id: &str) -> reqwest::Response {
    h.client
        .post(h.url("/v1/responses"))
        .header("x-request-id", id)
        .json(&body(stream))
        .send()
        .await
        .unwrap()
}

/// The Response a JSON or streamed answer carries (the stream's
/// `response.completed`).
fn response_of(text: &str, stream: bool) -> Value {
    if !stream {
        return serde_json::from_str(text).unwrap();
    }
    let evs = events(text);
    let (last, done) = evs.last().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    done["response"].clone()
}

#[tokio::test]
async fn a_passed_through_answer_matching_its_schema_is_returned_as_written() {
    let h = harness().await;
    for stream in [false, true] {
        let id = format!("rs-ok-{stream}");
        let resp = send(&h, stream, &id).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-signalbox-route"), "native-route");
        let answer = response_of(&resp.text().await.unwrap(), stream);
        let own = answer["id"].as_str().unwrap_or_default();
        assert!(
            own.starts_with("resp_mock-"),
            "the provider's own: {answer}"
        );
        let said: Value = serde_json::from_str(&output_text(&answer)).unwrap_or_default();
        assert_eq!(said, json!({"location": "Paris"}), "{answer}");
        // Sent as written: the provider got the schema itself.
        let sent = h.mock("native").stats().last_request.unwrap();
        assert_eq!(sent["text"]["format"]["schema"], place(), "{sent}");
        let rec = h.record(&id).await;
        let checked = rec.translation.iter().find(|n| n.field == "text.format");
        assert!(
            checked.is_some_and(|n| n.action == "passthrough" && n.reason.contains("checked")),
            "{:?}",
            rec.translation
        );
    }
    assert_eq!(h.mock("spare").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_passed_through_answer_breaking_its_schema_fails_over_marked() {
    let h = harness().await;
    break_schema(&h, "native");
    for stream in [false, true] {
        let id = format!("rs-bad-{stream}");
        let resp = send(&h, stream, &id).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-signalbox-route"), "spare-route");
        assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
        let text = resp.text().await.unwrap();
        // Nothing of the broken answer reached the caller.
        assert!(!text.contains("42"), "{text}");
        let answer = response_of(&text, stream);
        let said: Value = serde_json::from_str(&output_text(&answer)).unwrap_or_default();
        assert_eq!(said, json!({"location": "Paris"}), "{text}");
        let rec = h.record(&id).await;
        assert_eq!(rec.attempts[0].route.as_str(), "native-route", "{rec:?}");
        assert_eq!(rec.attempts[0].outcome.label(), "bad_response", "{rec:?}");
        assert!(
            rec.attempts[0]
                .detail
                .contains("does not match its response schema at `/location`"),
            "{rec:?}"
        );
        assert_eq!(rec.degraded, vec!["fallback-route"], "{rec:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn no_route_answering_to_its_schema_is_a_502_naming_the_violation() {
    let h = harness().await;
    break_schema(&h, "native");
    break_schema(&h, "spare");
    for stream in [false, true] {
        let resp = send(&h, stream, &format!("rs-none-{stream}")).await;
        // Nothing was released: an error status, in OpenAI's shape.
        let says = "does not match its response schema at `/location`";
        let v = crate::error_says(resp, 502, says).await;
        assert!(!v.to_string().contains("Paris"), "{v}");
        assert!(v["error"]["type"].is_string(), "{v}");
    }
    assert_eq!(h.mock("native").stats().requests, 2);
    assert_eq!(h.mock("spare").stats().requests, 2);
    h.stop().await;
}

/// An `Idempotency-Key` holds on `/v1/responses` as on chat: the checked,
/// passed-through answer is stored and replayed, not sent again; a
/// replayed stream is the same events.
#[tokio::test]
async fn an_idempotent_responses_request_is_replayed_not_resent() {
    let h = harness().await;
    for stream in [false, true] {
        let key = format!("resp-once-{stream}");
        let post = || {
            h.client
                .post(h.url("/v1/responses"))
                .header("idempotency-key", key.as_str())
                .json(&body(stream))
                .send()
        };
        let first = post().await.unwrap().text().await.unwrap();
        let again = post().await.unwrap();
        assert_eq!(again.status(), 200);
        assert_eq!(header(&again, "x-signalbox-idempotent-replay"), "true");
        let again = again.text().await.unwrap();
        assert_eq!(
            output_text(&response_of(&first, stream)),
            output_text(&response_of(&again, stream))
        );
    }
    assert_eq!(h.mock("native").stats().requests, 2, "one call per key");
    h.stop().await;
}
