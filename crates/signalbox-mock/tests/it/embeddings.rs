//! Embeddings: deterministic unit vectors in the requested dimensions and
//! encoding, with the fault switches applying as they do to chat.

use super::*;

async fn post_embeddings(client: &Client, mock: &MockHandle, body: &Value) -> Response {
    client
        .post(format!("{}/embeddings", mock.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let mock = start_named("embedder").await;
    let client = client();
    let body = json!({"model": "te3", "input": ["a b", "c"], "dimensions": 16});
    let first = json_of(post_embeddings(&client, &mock, &body).await).await;
    let again = json_of(post_embeddings(&client, &mock, &body).await).await;
    assert_eq!(first, again, "same input, same vectors");
    assert_eq!(first["object"], "list");
    assert_eq!(first["model"], "te3");
    assert_eq!(first["usage"]["prompt_tokens"], 3, "one token per word");
    let v: Vec<f64> = first["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v.len(), 16);
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    assert_ne!(first["data"][0]["embedding"], first["data"][1]["embedding"]);
    let default =
        json_of(post_embeddings(&client, &mock, &json!({"model": "m", "input": "x"})).await).await;
    assert_eq!(
        default["data"][0]["embedding"].as_array().unwrap().len(),
        1536
    );
    let b64 = json!({"model": "m", "input": "x", "encoding_format": "base64", "dimensions": 4});
    let b64 = json_of(post_embeddings(&client, &mock, &b64).await).await;
    assert!(b64["data"][0]["embedding"].is_string(), "{b64}");
    let bad = post_embeddings(&client, &mock, &json!({"model": "m", "input": []})).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    mock.shutdown();
}

#[tokio::test]
async fn fault_switches_apply_to_embeddings() {
    let mock = start_named("embedder").await;
    let client = client();
    let body = json!({"model": "te3", "input": "x", "dimensions": 4});
    mock.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    assert_eq!(post_embeddings(&client, &mock, &body).await.status(), 503);
    mock.set_faults(Faults {
        rate_limit_retry_after_secs: Some(7),
        ..Faults::default()
    });
    let limited = post_embeddings(&client, &mock, &body).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    mock.set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let malformed = post_embeddings(&client, &mock, &body).await;
    assert_eq!(malformed.status(), 200);
    let text = malformed.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(mock.stats().requests, 3);
    mock.shutdown();
}
