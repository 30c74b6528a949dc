//! Bedrock embedding routes end to end against the mock's Bedrock side
//! (`/model/{id}/invoke`): Titan Text Embeddings one text per signed call
//! (the route's `max-batch: 1` splits the input), Cohere Embed on Bedrock
//! in one call with the client's `input_type`, both answered as OpenAI's
//! list with the mock's deterministic vectors and recorded usage; a failing
//! Titan route fails over to another Titan route of the same space.

use serde_json::{Value, json};
use signalbox_adapters::mock::embedding::unit_vector;
use signalbox_mock::{Faults, MockFormat, MockOptions};
use signalbox_testkit::Harness;

use crate::embeddings::vectors;
use crate::header;

const YAML: &str = r#"
providers:
  - name: aws
    kind: bedrock
    base-url: ${AWS_URL}
    aws-region: us-east-1
    aws-credentials:
      access-key-id: { env: TEST_AWS_AKID }
      secret-access-key: { env: TEST_AWS_SECRET }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
  - name: aws-west
    kind: bedrock
    base-url: ${AWS_WEST_URL}
    aws-region: us-west-2
    aws-credentials:
      access-key-id: { env: TEST_AWS_AKID }
      secret-access-key: { env: TEST_AWS_SECRET }
    timeouts: { connect: 500ms, first-byte: 5s, total: 10s }
routes:
  - id: titan-east
    provider: aws
    model: "amazon.titan-embed-text-v2:0"
    region: us
    endpoint: embeddings
    embedding: { dimensions: 256, max-batch: 1 }
  - id: titan-west
    provider: aws-west
    model: "amazon.titan-embed-text-v2:0"
    region: us
    endpoint: embeddings
    embedding: { dimensions: 256, max-batch: 1 }
  - id: cohere-embed
    provider: aws
    model: cohere.embed-english-v3
    region: us
    endpoint: embeddings
    embedding: { dimensions: 1024, max-batch: 96 }
aliases:
  - { name: titan, routes: [titan-east, titan-west] }
  - { name: cohere, routes: [cohere-embed] }
"#;

async fn harness() -> Harness {
    Harness::start_formats(
        YAML,
        &[
            ("aws", MockFormat::Bedrock),
            ("aws-west", MockFormat::Bedrock),
        ],
        &[
            ("TEST_AWS_AKID", "AKIDEXAMPLE".into()),
            ("TEST_AWS_SECRET", "secret".into()),
        ],
        MockOptions::default(),
    )
    .await
}

fn close(got: &[f64], want: &[f32]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(a, b)| (a - f64::from(*b)).abs() < 1e-6)
}

#[tokio::test]
async fn titan_embeds_one_signed_call_per_input_in_input_order() {
    let h = harness().await;
    let resp = h
        .embeddings(
            &json!({"model": "titan", "input": ["first text", "second"], "dimensions": 256}),
            &[("x-request-id", "bedrock-titan")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "titan-east");
    let body: Value = resp.json().await.unwrap();
    let got = vectors(&body);
    assert!(
        close(&got[0], &unit_vector("first text", 256)),
        "{body:.200}"
    );
    assert!(close(&got[1], &unit_vector("second", 256)));
    // Two inputs, `max-batch: 1`: two calls, each SigV4-signed.
    let stats = h.mock("aws").stats();
    assert_eq!(stats.requests, 2);
    assert!(
        stats.last_headers["authorization"].starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{:?}",
        stats.last_headers
    );
    assert_eq!(
        stats.last_request.unwrap(),
        json!({"inputText": "second", "dimensions": 256})
    );
    // Titan's token counts, summed over the batches.
    assert_eq!(body["usage"]["prompt_tokens"], 3, "{body:.300}");
    let rec = h.record("bedrock-titan").await;
    assert_eq!(rec.usage.map(|u| u.prompt_tokens), Some(3));
    h.stop().await;
}

#[tokio::test]
async fn cohere_embed_on_bedrock_is_one_call_with_the_clients_input_type() {
    let h = harness().await;
    let resp = h
        .embeddings(
            &json!({"model": "cohere", "input": ["a", "b", "c"], "input_type": "search_query"}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let got = vectors(&body);
    assert_eq!(got.len(), 3);
    assert!(close(&got[2], &unit_vector("c", 1024)));
    let stats = h.mock("aws").stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(
        stats.last_request.unwrap(),
        json!({"texts": ["a", "b", "c"], "input_type": "search_query"})
    );
    h.stop().await;
}

#[tokio::test]
async fn a_failing_titan_route_fails_over_within_its_space() {
    let h = harness().await;
    h.mock("aws").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h
        .embeddings(
            &json!({"model": "titan", "input": "hello", "dimensions": 256}),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "titan-west");
    assert_eq!(header(&resp, "x-signalbox-degraded"), "fallback-route");
    let body: Value = resp.json().await.unwrap();
    assert!(close(&vectors(&body)[0], &unit_vector("hello", 256)));
    h.stop().await;
}
