//! `POST /v1/embeddings` end to end against the mocks, through
//! `examples/embeddings.yaml` as shipped: served, failed over within one
//! embedding space, split into a route's batches and reassembled in input
//! order, kept off chat routes (and chat off embedding routes), redacted
//! at the privacy boundary, kept in the tenant's regions, replayed by
//! idempotency key, recorded; and Gemini's `batchEmbedContents` translated.

use serde_json::{Value, json};
use signalbox_mock::{Faults, MockFormat, MockOptions};
use signalbox_testkit::{Harness, chat_body};

use crate::header;

const EMBEDDINGS_YAML: &str = include_str!("../../../../examples/embeddings.yaml");

async fn example() -> Harness {
    Harness::start(EMBEDDINGS_YAML, &["primary", "secondary"], &[]).await
}

pub(crate) fn vectors(body: &Value) -> Vec<Vec<f64>> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d["index"], i, "{d}");
            assert_eq!(d["object"], "embedding");
            d["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_example_serves_embeddings_from_the_primary() {
    let h = example().await;
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": ["first", "second"]}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "embed-primary");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let v = vectors(&body);
    assert_eq!((v.len(), v[0].len()), (2, 1536));
    assert_ne!(v[0], v[1]);
    assert!(
        body["usage"]["prompt_tokens"].as_u64().unwrap() >= 2,
        "{}",
        body["usage"]
    );
    let sent = h.mock("primary").stats().last_request.unwrap();
    assert_eq!(sent["model"], "text-embedding-3-small");
    assert_eq!(sent["input"], json!(["first", "second"]));
    h.stop().await;
}

#[tokio::test]
async fn a_primary_down_fails_over_to_the_secondary_of_the_same_space() {
    let h = example().await;
    let want = h
        .embeddings(&json!({"model": "embed", "input": "hello"}), &[])
        .await
        .json::<Value>()
        .await
        .unwrap();
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h
        .embeddings(&json!({"model": "embed", "input": "hello"}), &[])
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "embed-secondary");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "2");
    let got: Value = resp.json().await.unwrap();
    assert_eq!(vectors(&got), vectors(&want), "one space: the same vector");
    h.stop().await;
}

#[tokio::test]
async fn a_chat_request_is_never_sent_to_an_embedding_route() {
    let h = example().await;
    let resp = h.chat(&chat_body("embed", "hello")).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "no_eligible_route", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("endpoint chat ≠ route serves embeddings"),
        "{body}"
    );
    // Nor a Responses request: it is served by chat routes only.
    let resp = h
        .responses(&json!({"model": "embed", "input": "hello"}))
        .await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_eligible_route", "{body}");
    assert_eq!(h.mock("primary").stats().requests, 0);
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_tokenising_boundary_redacts_embedding_input() {
    let h = example().await;
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": ["mail jane.doe@example.com now"]}),
            &[("x-request-id", "embed-privacy")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let sent = h.mock("primary").stats().last_request.unwrap();
    assert_eq!(sent["input"], json!(["mail [REDACTED_EMAIL] now"]));
    let rec = h.record("embed-privacy").await;
    let privacy = rec.privacy.clone().unwrap();
    assert_eq!(
        privacy["external"]["classes"]["email"]["redacted"], 1,
        "{privacy}"
    );
    assert_eq!(
        privacy["external"]["classes"]["email"]["tokenised"], 0,
        "{privacy}"
    );
    let text = serde_json::to_string(&rec).unwrap();
    assert!(!text.contains("jane.doe"), "{text}");
    assert!(
        rec.signals
            .iter()
            .any(|s| s.name == "endpoint" && s.value == "embeddings"),
        "{:?}",
        rec.signals
    );
    // A blocked class refuses: nothing is sent.
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": "key AKIAIOSFODNN7EXAMPLE"}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "privacy_blocked", "{body}");
    // Token arrays cannot be scanned: nothing unchecked crosses the boundary.
    let resp = h
        .embeddings(&json!({"model": "embed", "input": [[1, 2, 3]]}), &[])
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

#[tokio::test]
async fn an_idempotent_embeddings_request_is_replayed_not_resent() {
    let h = example().await;
    let body = json!({"model": "embed", "input": "once"});
    let key = [("idempotency-key", "embed-once")];
    let first: Value = h.embeddings(&body, &key).await.json().await.unwrap();
    let again = h.embeddings(&body, &key).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(vectors(&first), vectors(&again));
    assert_eq!(h.mock("primary").stats().requests, 1);
    h.stop().await;
}

/// Chat and embedding routes side by side, a small batch, an EU route of
/// the same space, and a Gemini embedding route.
const MIXED: &str = r#"
regions: [us, eu]
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
  - { name: gem, kind: gemini, base-url: "${GEM_URL}", api-key: { env: GEM_KEY } }
  - { name: co, kind: cohere, base-url: "${CO_URL}", api-key: { env: GEM_KEY } }
routes:
  - { id: chat-route, provider: primary, model: gpt, region: us }
  - id: small-batch
    provider: primary
    model: te3
    region: us
    endpoint: embeddings
    embedding: { dimensions: 8, max-batch: 2 }
  - id: eu-embed
    provider: secondary
    model: te3-eu
    region: eu
    endpoint: embeddings
    embedding: { dimensions: 8, model: te3 }
  - id: gemini-embed
    provider: gem
    model: text-embedding-004
    region: us
    endpoint: embeddings
    embedding: { dimensions: 8 }
  - id: cohere-embed
    provider: co
    model: embed-v4.0
    region: us
    endpoint: embeddings
    embedding: { dimensions: 8, max-batch: 96 }
tenants:
  - { id: eu-only, api-keys: [{ env: EU_KEY }], allowed-regions: [eu] }
  - { id: anyone }
anonymous-tenant: anyone
aliases:
  - { name: chat, routes: [chat-route] }
  - { name: embed, routes: [small-batch, eu-embed] }
  - { name: whole, routes: [eu-embed] }
  - { name: gemini, routes: [gemini-embed] }
  - { name: cohere, routes: [cohere-embed] }
"#;

async fn mixed() -> Harness {
    Harness::start_formats(
        MIXED,
        &[
            ("primary", MockFormat::OpenAi),
            ("secondary", MockFormat::OpenAi),
            ("gem", MockFormat::Gemini),
            (
                "co",
                MockFormat::of(signalbox_core::ProviderKind::Cohere).unwrap(),
            ),
        ],
        &[("GEM_KEY", "g".into()), ("EU_KEY", "eu-secret".into())],
        MockOptions::default(),
    )
    .await
}

#[tokio::test]
async fn inputs_above_the_route_batch_are_split_and_reassembled_in_order() {
    let h = mixed().await;
    let input = json!(["a", "b", "c", "d", "e"]);
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": input, "dimensions": 8}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "small-batch");
    let split: Value = resp.json().await.unwrap();
    assert_eq!(
        h.mock("primary").stats().requests,
        3,
        "5 inputs in batches of 2"
    );
    // The same inputs in one call (a route without the small batch).
    let whole: Value = h
        .embeddings(
            &json!({"model": "whole", "input": input, "dimensions": 8}),
            &[],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(vectors(&split), vectors(&whole));
    assert_eq!(vectors(&split).len(), 5);
    assert_eq!(
        split["usage"]["prompt_tokens"], 5,
        "usage summed over batches"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_embeddings_request_is_never_sent_to_a_chat_route() {
    let h = mixed().await;
    let resp = h
        .embeddings(&json!({"model": "chat", "input": "hello"}), &[])
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "no_eligible_route", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("endpoint embeddings ≠ route serves chat"),
        "{body}"
    );
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn residency_keeps_embeddings_in_the_tenants_regions() {
    let h = mixed().await;
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": ["x"], "dimensions": 8}),
            &[("authorization", "Bearer eu-secret")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "eu-embed");
    assert_eq!(h.mock("primary").stats().requests, 0);
    // Nowhere else to go when the EU route is down: refused, never the US.
    h.mock("secondary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": ["x"], "dimensions": 8}),
            &[("authorization", "Bearer eu-secret")],
        )
        .await;
    assert!(resp.status().as_u16() >= 500, "{}", resp.status());
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn gemini_batch_embed_contents_is_translated() {
    let h = mixed().await;
    for encoding in ["float", "base64"] {
        let resp = h
            .embeddings(
                &json!({"model": "gemini", "input": ["a", "b"], "dimensions": 8,
                        "encoding_format": encoding}),
                &[],
            )
            .await;
        assert_eq!(resp.status(), 200, "{encoding}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["data"].as_array().map(Vec::len), Some(2), "{body}");
        if encoding == "float" {
            assert_eq!(vectors(&body)[0].len(), 8);
        } else {
            assert!(body["data"][1]["embedding"].is_string(), "{body}");
        }
    }
    let sent = h.mock("gem").stats().last_request.unwrap();
    assert_eq!(sent["requests"][1]["content"]["parts"][0]["text"], "b");
    h.stop().await;
}

#[tokio::test]
async fn cohere_v2_embed_is_translated() {
    let h = mixed().await;
    let resp = h
        .embeddings(
            &json!({"model": "cohere", "input": ["a b", "c"], "dimensions": 8}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(vectors(&body).len(), 2);
    assert_eq!(vectors(&body)[1].len(), 8);
    assert_eq!(body["usage"]["prompt_tokens"], 3, "{body}");
    let sent = h.mock("co").stats().last_request.unwrap();
    assert_eq!(sent["texts"], json!(["a b", "c"]));
    assert_eq!(sent["output_dimension"], 8);
    h.stop().await;
}

#[tokio::test]
async fn a_vector_of_another_length_than_declared_fails_over() {
    let h = mixed().await;
    // Without `dimensions` the mock answers 1536 numbers; the routes say 8.
    let resp = h
        .embeddings(&json!({"model": "embed", "input": "x"}), &[])
        .await;
    let status = resp.status().as_u16();
    assert!(status >= 500, "{status}");
    assert_eq!(h.mock("primary").stats().requests, 1);
    assert_eq!(h.mock("secondary").stats().requests, 1);
    h.stop().await;
}

#[test]
fn an_alias_mixing_embedding_spaces_is_refused_at_load() {
    let text = MIXED.replace(
        "embedding: { dimensions: 8, model: te3 }",
        "embedding: { dimensions: 16, model: te3 }",
    );
    let vars: std::collections::HashMap<String, String> = [
        ("PRIMARY_URL", "http://127.0.0.1:1/v1"),
        ("SECONDARY_URL", "http://127.0.0.1:2/v1"),
        ("GEM_URL", "http://127.0.0.1:3"),
        ("CO_URL", "http://127.0.0.1:4"),
        ("GEM_KEY", "g"),
        ("EU_KEY", "e"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let errs = signalbox_config::load_str(&text, "mixed.yaml", &vars).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].path, "aliases[1].routes[1]", "{errs}");
    assert!(errs.0[0].message.contains("another space"), "{errs}");
}

#[tokio::test]
async fn azure_deployments_get_openai_embeddings_with_api_key_and_version() {
    let config = r#"
providers:
  - { name: az, kind: azure-openai, base-url: "${AZ_ROOT}", api-key: { env: AZ_KEY } }
routes:
  - id: az-embed
    provider: az
    model: my-embedding-deployment
    region: us
    endpoint: embeddings
    embedding: { dimensions: 8, model: text-embedding-3-small }
aliases:
  - { name: embed, routes: [az-embed] }
"#;
    let mock =
        signalbox_mock::MockProvider::start(signalbox_testkit::any_port(), MockOptions::default())
            .await
            .unwrap();
    let root = mock.base_url().trim_end_matches("/v1").to_owned();
    let h = Harness::start(
        config,
        &[],
        &[("AZ_ROOT", root), ("AZ_KEY", "az-secret".into())],
    )
    .await;
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": ["a"], "dimensions": 8}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(vectors(&body)[0].len(), 8);
    let stats = mock.stats();
    assert_eq!(stats.last_headers["api-key"], "az-secret");
    assert_eq!(
        stats.last_request.unwrap()["model"],
        "my-embedding-deployment"
    );
    h.stop().await;
    mock.shutdown();
}

#[tokio::test]
async fn admin_routes_show_each_routes_capability_record() {
    let config = format!("admin:\n  token: {{ env: ADMIN_TOKEN }}\n{MIXED}");
    let h = Harness::start_formats(
        &config,
        &[
            ("primary", MockFormat::OpenAi),
            ("secondary", MockFormat::OpenAi),
            ("gem", MockFormat::Gemini),
            (
                "co",
                MockFormat::of(signalbox_core::ProviderKind::Cohere).unwrap(),
            ),
        ],
        &[
            ("GEM_KEY", "g".into()),
            ("EU_KEY", "eu-secret".into()),
            ("ADMIN_TOKEN", "admin-secret".into()),
        ],
        MockOptions::default(),
    )
    .await;
    let v: Value = reqwest::Client::new()
        .get(h.url("/admin/routes"))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes = v["routes"].as_array().unwrap();
    let chat = &routes[0]["capabilities"];
    assert_eq!(chat["endpoints"], json!(["chat"]), "{chat}");
    assert_eq!(chat["context_window"], 8192, "{chat}");
    assert!(chat.get("embedding").is_none(), "{chat}");
    let small = &routes[1]["capabilities"];
    assert_eq!(small["endpoints"], json!(["embeddings"]), "{small}");
    assert_eq!(
        small["embedding"],
        json!({"model": "te3", "dimensions": 8, "max_input_tokens": 8192, "max_batch": 2}),
        "{small}"
    );
    h.stop().await;
}

#[tokio::test]
async fn an_embedding_route_is_probed_with_an_embeddings_request() {
    let config = r#"
resilience:
  health-check: { mode: always, interval: 1s, timeout: 2s }
admin:
  token: { env: ADMIN_TOKEN }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
routes:
  - { id: e, provider: primary, model: te3, region: us, endpoint: embeddings, embedding: { dimensions: 1536 } }
aliases:
  - { name: embed, routes: [e] }
"#;
    let h = Harness::start(
        config,
        &["primary"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await;
    let mut last = Value::Null;
    for _ in 0..50 {
        let v: Value = reqwest::Client::new()
            .get(h.url("/admin/routes"))
            .bearer_auth("admin-secret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        last = v["routes"][0]["health"]["last_probe"].clone();
        if last["ok"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["ok"], true, "{last}");
    let sent = h.mock("primary").stats().last_request.unwrap();
    assert!(
        sent.get("input").is_some() && sent.get("messages").is_none(),
        "{sent}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_smaller_model_step_never_reaches_another_embedding_space() {
    let config = r#"
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
routes:
  - { id: small-space, provider: primary, model: te3, region: us, endpoint: embeddings, embedding: { dimensions: 8 } }
  - { id: other-space, provider: secondary, model: other, region: us, endpoint: embeddings, embedding: { dimensions: 8 } }
aliases:
  - { name: embed, routes: [small-space], smaller-model: other }
  - { name: other, routes: [other-space] }
policy:
  rules:
    - name: embeddings-degrade
      when: { aliases: [embed] }
      degrade: [fallback-route, smaller-model]
"#;
    let h = Harness::start(config, &["primary", "secondary"], &[]).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h
        .embeddings(
            &json!({"model": "embed", "input": "x", "dimensions": 8}),
            &[("x-request-id", "no-cross-space")],
        )
        .await;
    assert!(resp.status().as_u16() >= 500, "{}", resp.status());
    assert_eq!(
        h.mock("secondary").stats().requests,
        0,
        "another space is never a fallback"
    );
    let rec = h.record("no-cross-space").await;
    assert!(
        rec.skipped
            .iter()
            .any(|s| s.route == "other-space" && s.reason.contains("another space")),
        "{:?}",
        rec.skipped
    );
    h.stop().await;
}
