//! Responses passthrough: a route whose provider serves the Responses API
//! (`endpoint: [chat, responses]`) is sent the client's own body and its
//! answer (JSON, or typed events) comes back as written, usage recorded;
//! a route that does not is reached through its chat API, in the same
//! ranking, so failover crosses between them before the first byte. The
//! record's translation note says which way each answer went. A privacy
//! boundary on the route's zone sends the request through the chat API
//! even on a passthrough route (what crosses is what was scanned). An upstream that lies is a clear error, recorded.

use serde_json::{Value, json};
use signalbox_mock::Faults;
use signalbox_testkit::Harness;

use crate::header;
use crate::responses::{events, output_text};

const YAML: &str = r#"
providers:
  - name: native
    kind: openai-compatible
    base-url: ${NATIVE_URL}
    api-key: { env: NATIVE_KEY }
    max-stream-event-bytes: ${CAP:-8388608}
    timeouts: { connect: 500ms, first-byte: 700ms, total: 10s }
  - name: plain
    kind: openai-compatible
    base-url: ${PLAIN_URL}
    timeouts: { connect: 500ms, first-byte: 700ms, total: 10s }
routes:
  - id: native-route
    provider: native
    model: gpt-native
    region: us
    zone: internal
    endpoint: [chat, responses]
  - id: plain-route
    provider: plain
    model: gpt-plain
    region: us
    zone: internal
  - id: guarded-route
    provider: native
    model: gpt-guarded
    region: us
    zone: external
    endpoint: [chat, responses]
aliases:
  - name: resp
    routes: [native-route, plain-route]
  - name: guarded
    routes: [guarded-route]
privacy:
  zones: [internal, external]
  boundaries:
    - zone: external
      protect: { classes: { email: redact } }
"#;

async fn harness() -> Harness {
    harness_with(&[]).await
}

async fn harness_with(vars: &[(&str, String)]) -> Harness {
    let mut all = vec![("NATIVE_KEY", "sk-native".to_owned())];
    all.extend(vars.iter().cloned());
    Harness::start(YAML, &["native", "plain"], &all).await
}

/// A body with fields only the Responses API has (passed through as is).
fn body(text: &str, stream: bool) -> Value {
    json!({
        "model": "resp",
        "instructions": "be brief",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
        "x_future_field": {"kept": true},
        "max_output_tokens": 64,
        "stream": stream
    })
}

async fn send(h: &Harness, body: &Value, id: &str) -> reqwest::Response {
    h.client
        .post(h.url("/v1/responses"))
        .header("x-request-id", id)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The served attempt's translation notes as `(field, action)`.
async fn notes(h: &Harness, id: &str) -> Vec<(String, String, String)> {
    h.record(id)
        .await
        .translation
        .into_iter()
        .map(|t| (t.field, t.action, t.reason))
        .collect()
}

fn passed_through(notes: &[(String, String, String)]) -> bool {
    notes
        .iter()
        .any(|(f, a, _)| f == "(body)" && a == "passthrough")
}

#[tokio::test]
async fn a_json_request_is_passed_through_and_its_usage_recorded() {
    let h = harness().await;
    let sent = body("hello", false);
    let resp = send(&h, &sent, "rn-json").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "native-route");
    let v: Value = resp.json().await.unwrap();
    // The provider's own Response object, as it wrote it.
    assert_eq!(v["id"], "resp_mock-1", "{v}");
    assert_eq!(v["object"], "response", "{v}");
    assert_eq!(output_text(&v), "[native] echo: hello", "{v}");
    // The provider got the client's body, model swapped, nothing dropped.
    let stats = h.mock("native").stats();
    let mut want = sent.clone();
    want["model"] = json!("gpt-native");
    assert_eq!(stats.last_request.unwrap(), want);
    assert_eq!(stats.last_headers["authorization"], "Bearer sk-native");
    let rec = h.record("rn-json").await;
    let usage = rec.usage.expect("usage recorded");
    assert!(
        usage.prompt_tokens > 0 && usage.completion_tokens > 0,
        "{usage:?}"
    );
    let notes = notes(&h, "rn-json").await;
    assert!(passed_through(&notes), "{notes:?}");
    // Nothing is noted dropped: the fields went as written.
    assert!(notes.iter().all(|(_, a, _)| a != "dropped"), "{notes:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_stream_is_passed_through_event_by_event_with_its_usage() {
    let h = harness().await;
    let resp = send(&h, &body("hello", true), "rn-stream").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    assert_eq!(
        evs.first().map(|(n, _)| n.as_str()),
        Some("response.created")
    );
    let (last, done) = evs.last().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    assert_eq!(done["response"]["id"], "resp_mock-1", "{text}");
    assert_eq!(output_text(&done["response"]), "[native] echo: hello");
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(evs.iter().all(|(n, _)| n != "error"), "{text}");
    let sent = h.mock("native").stats().last_request.unwrap();
    assert_eq!(sent["input"][0]["content"][0]["text"], "hello", "{sent}");
    let rec = h.record("rn-stream").await;
    assert_eq!(rec.outcome, "served", "{rec:?}");
    assert_eq!(rec.attempts[0].outcome.label(), "success", "{rec:?}");
    let usage = rec.usage.expect("usage recorded");
    assert!(usage.completion_tokens > 0, "{usage:?}");
    assert!(!rec.usage_estimated, "response.completed reported it");
    assert!(passed_through(&notes(&h, "rn-stream").await));
    h.stop().await;
}

#[tokio::test]
async fn a_stream_cut_before_response_completed_records_an_estimated_usage() {
    let h = harness().await;
    // created, in_progress, the item and its part, one delta: then the
    // connection drops, before response.completed (and its usage).
    h.mock("native").set_faults(Faults {
        cut_stream_after: Some(5),
        ..Faults::default()
    });
    let resp = send(&h, &body("hello there", true), "rn-cut").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    assert_eq!(evs.last().unwrap().0, "error", "{text}");
    assert!(!text.contains("response.completed"), "{text}");
    let rec = h.record("rn-cut").await;
    assert_eq!(rec.attempts[0].outcome.label(), "stream_cut", "{rec:?}");
    // The provider said nothing of usage: the gateway's estimate, marked.
    let usage = rec.usage.expect("an estimate recorded");
    assert!(rec.usage_estimated, "{rec:?}");
    assert!(usage.prompt_tokens > 0, "the prompt estimate: {usage:?}");
    assert!(usage.completion_tokens > 0, "events forwarded: {usage:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_failing_passthrough_route_fails_over_to_a_translated_one() {
    let h = harness().await;
    h.mock("native").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    for stream in [false, true] {
        let id = format!("rn-fail-{stream}");
        let resp = send(&h, &body("hello", stream), &id).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-signalbox-route"), "plain-route");
        assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
        let text = resp.text().await.unwrap();
        let answer = if stream {
            let evs = events(&text);
            assert_eq!(evs.last().unwrap().0, "response.completed", "{text}");
            evs.last().unwrap().1["response"].clone()
        } else {
            serde_json::from_str(&text).unwrap()
        };
        // The gateway's own Response, written from the chat answer.
        assert_eq!(output_text(&answer), "[plain] echo: hello", "{text}");
        let sent = h.mock("plain").stats().last_request.unwrap();
        assert_eq!(sent["messages"][0]["role"], "system", "{sent}");
        // The effort is carried as the chat API's own field.
        assert_eq!(sent["reasoning_effort"], "low", "{sent}");
        assert!(sent.get("reasoning").is_none(), "{sent}");
        let notes = notes(&h, &id).await;
        assert!(!passed_through(&notes), "{notes:?}");
        assert!(
            notes.iter().any(|(f, a, r)| f == "(body)"
                && a == "translated"
                && r.contains("does not declare the Responses API")),
            "{notes:?}"
        );
        // What translating did to the effort is noted (the passthrough
        // sent the client's `reasoning` as written).
        assert!(
            notes
                .iter()
                .any(|(f, a, _)| f == "reasoning.effort" && a == "translated"),
            "{notes:?}"
        );
        // What translating dropped is noted too.
        assert!(
            notes
                .iter()
                .any(|(f, a, _)| f == "include" && a == "dropped"),
            "{notes:?}"
        );
        let rec = h.record(&id).await;
        assert_eq!(rec.attempts[0].route.as_str(), "native-route", "{rec:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn a_first_event_that_is_not_json_fails_over_before_the_first_byte() {
    let h = harness().await;
    h.mock("native").set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let resp = send(&h, &body("hello", true), "rn-badjson").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "plain-route");
    let text = resp.text().await.unwrap();
    assert_eq!(events(&text).last().unwrap().0, "response.completed");
    let rec = h.record("rn-badjson").await;
    assert_eq!(rec.attempts[0].outcome.label(), "bad_response", "{rec:?}");
    // The JSON answer that is not a Response object fails over too.
    let resp = send(&h, &body("hello", false), "rn-badjson-2").await;
    assert_eq!(header(&resp, "x-signalbox-route"), "plain-route");
    h.stop().await;
}

#[tokio::test]
async fn a_stream_that_ends_without_response_completed_is_an_error_event_recorded() {
    let h = harness().await;
    h.mock("native").set_faults(Faults {
        end_stream_after: Some(4),
        ..Faults::default()
    });
    let resp = send(&h, &body("hello there", true), "rn-short").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{text}");
    assert_eq!(data["code"], "stream_interrupted", "{text}");
    assert!(
        data["message"]
            .as_str()
            .unwrap_or_default()
            .contains("before its end marker"),
        "{text}"
    );
    assert!(!text.contains("response.completed"), "{text}");
    let rec = h.record("rn-short").await;
    assert_eq!(rec.attempts[0].outcome.label(), "stream_cut", "{rec:?}");
    assert!(rec.error.is_some_and(|e| e.contains("end marker")));
    h.stop().await;
}

#[tokio::test]
async fn an_event_that_is_not_json_mid_stream_ends_it_with_an_error_recorded() {
    let h = harness().await;
    h.mock("native").set_faults(Faults {
        malformed_event_after: Some(3),
        ..Faults::default()
    });
    let resp = send(&h, &body("hello there", true), "rn-midjson").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{text}");
    assert!(
        data["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not JSON"),
        "{text}"
    );
    // The broken event itself never reached the client.
    assert!(!text.contains("{\"choices\": [{\"delta\""), "{text}");
    let rec = h.record("rn-midjson").await;
    assert_eq!(rec.attempts[0].outcome.label(), "stream_cut", "{rec:?}");
    h.stop().await;
}

#[tokio::test]
async fn an_event_over_the_providers_cap_ends_the_stream_with_an_error() {
    let h = harness_with(&[("CAP", "4096".into())]).await;
    let long = "word ".repeat(2000);
    let resp = send(&h, &body(&long, true), "rn-huge").await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let evs = events(&text);
    assert_eq!(evs.last().unwrap().0, "error", "{text:.400}");
    let rec = h.record("rn-huge").await;
    assert_eq!(rec.attempts[0].outcome.label(), "stream_cut", "{rec:?}");
    assert!(
        rec.error
            .is_some_and(|e| e.contains("max-stream-event-bytes"))
    );
    h.stop().await;
}

#[tokio::test]
async fn a_guarded_zone_translates_even_on_a_passthrough_route() {
    let h = harness().await;
    let mut sent = body("mail jane.doe@example.com", false);
    sent["model"] = json!("guarded");
    let resp = send(&h, &sent, "rn-priv").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "guarded-route");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "response", "{v}");
    // The provider got a chat body, redacted: the client's own body (with
    // the address) was never sent.
    let sent = h.mock("native").stats().last_request.unwrap();
    assert!(sent.get("messages").is_some(), "{sent}");
    assert!(!sent.to_string().contains("jane.doe"), "{sent}");
    let notes = notes(&h, "rn-priv").await;
    assert!(
        notes
            .iter()
            .any(|(f, a, r)| f == "(body)" && a == "translated" && r.contains("rewritten")),
        "{notes:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_responses_bodies_are_refused_naming_the_field_before_any_route() {
    let h = harness().await;
    for (bad, field) in [
        (
            json!({"model": "resp", "input": [{"type": "item_reference", "id": "x"}]}),
            "input[0].type",
        ),
        (json!({"model": "resp", "input": 7}), "input"),
        (
            json!({"model": "resp", "input": "hi", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
    ] {
        let resp = send(&h, &bad, "rn-bad").await;
        assert_eq!(resp.status(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["param"], field, "{v}");
    }
    assert_eq!(h.mock("native").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn an_azure_deployment_is_sent_the_body_at_its_v1_responses_path() {
    let config = r#"
providers:
  - { name: az, kind: azure-openai, base-url: "${AZ_ROOT}", api-key: { env: AZ_KEY } }
routes:
  - { id: az-route, provider: az, model: my-deployment, region: us, retention: zero,
      endpoint: [chat, responses] }
aliases:
  - { name: resp, routes: [az-route] }
"#;
    let mock = signalbox_mock::MockProvider::start(
        signalbox_testkit::any_port(),
        signalbox_mock::MockOptions::default(),
    )
    .await
    .unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let h = Harness::start(
        config,
        &[],
        &[("AZ_ROOT", root), ("AZ_KEY", "az-secret".into())],
    )
    .await;
    let resp = send(&h, &body("hello", false), "rn-azure").await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], "resp_mock-1", "{v}");
    let stats = mock.stats();
    assert_eq!(stats.last_headers["api-key"], "az-secret");
    let sent = stats.last_request.unwrap();
    assert_eq!(sent["model"], "my-deployment", "{sent}");
    // A zero-retention route: the Responses API stores by default.
    assert_eq!(sent["store"], false, "{sent}");
    assert!(passed_through(&notes(&h, "rn-azure").await));
    h.stop().await;
    mock.shutdown();
}

#[tokio::test]
async fn a_built_in_tool_is_passed_through_and_never_translated_away() {
    let h = harness().await;
    let mut sent = body("search the news", false);
    sent["tools"] = json!([{"type": "web_search_preview"}]);
    sent["input"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "web_search_call", "id": "ws_1", "status": "completed"}));
    let resp = send(&h, &sent, "rn-builtin").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "native-route");
    let got = h.mock("native").stats().last_request.unwrap();
    assert_eq!(got["tools"], sent["tools"], "{got}");
    assert_eq!(got["input"][1]["type"], "web_search_call", "{got}");

    // The passthrough route down: the chat route cannot carry the tool, so
    // it is skipped (never sent the request without it).
    h.mock("native").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = send(&h, &sent, "rn-builtin-2").await;
    assert_ne!(resp.status(), 200);
    assert_eq!(h.mock("plain").stats().requests, 0);
    let rec = h.record("rn-builtin-2").await;
    let skip = rec.skipped.iter().find(|s| s.route == "plain-route");
    assert!(
        skip.is_some_and(|s| s
            .reason
            .contains("tools[0].type: built-in tool `web_search_preview`")),
        "{rec:?}"
    );

    // Where a boundary rewrites the request, nothing can carry it: a 400
    // naming the field.
    sent["model"] = json!("guarded");
    let resp = send(&h, &sent, "rn-builtin-3").await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_by_routes", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("tools[0].type"),
        "{v}"
    );
    h.stop().await;
}

#[tokio::test]
async fn admin_routes_show_which_routes_serve_the_responses_api() {
    let config = format!("admin:\n  token: {{ env: ADMIN_TOKEN }}\n{YAML}");
    let h = Harness::start(
        &config,
        &["native", "plain"],
        &[
            ("NATIVE_KEY", "sk-native".into()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
    )
    .await;
    let v = h.admin_json("/admin/routes", "admin-secret").await;
    let endpoints = |id: &str| {
        v["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["route"] == id)
            .map(|r| r["capabilities"]["endpoints"].clone())
    };
    assert_eq!(
        endpoints("native-route"),
        Some(json!(["chat", "responses"])),
        "{v}"
    );
    assert_eq!(endpoints("plain-route"), Some(json!(["chat"])), "{v}");
    h.stop().await;
}
