//! Bad input gets a clear 4xx in the OpenAI error shape; nothing panics.

use serde_json::Value;

use crate::{header, two_routes};

async fn post_raw(
    h: &signalbox_testkit::Harness,
    body: impl Into<reqwest::Body>,
) -> (u16, Value, String) {
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let id = header(&resp, "x-request-id").to_string();
    let v: Value = resp.json().await.unwrap();
    (status, v, id)
}

fn assert_openai_shape(v: &Value) {
    let e = &v["error"];
    assert!(e["message"].is_string(), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("code").is_some() && e.get("param").is_some(), "{v}");
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_problem() {
    let h = two_routes().await;
    let (status, v, id) = post_raw(&h, "{\"model\": \"chat\", ").await;
    assert_eq!(status, 400);
    assert_openai_shape(&v);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{v}"
    );
    assert_eq!(v["signalbox"]["request_id"], id);
    h.stop().await;
}

#[tokio::test]
async fn shape_errors_name_the_field() {
    let h = two_routes().await;
    let cases = [
        (r#"{"messages":[{"role":"user","content":"x"}]}"#, "model"),
        (r#"{"model":"chat"}"#, "messages"),
        (r#"{"model":"chat","messages":"hi"}"#, "messages"),
        (
            r#"{"model":"chat","messages":[{"content":"x"}]}"#,
            "messages[0].role",
        ),
        (
            r#"{"model":"chat","stream":"yes","messages":[{"role":"user"}]}"#,
            "stream",
        ),
        (r#"[1,2,3]"#, "(body)"),
    ];
    for (body, field) in cases {
        let (status, v, _) = post_raw(&h, body).await;
        assert_eq!(status, 400, "{body}");
        assert_openai_shape(&v);
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{body}: {v}"
        );
    }
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn unknown_model_is_a_404() {
    let h = two_routes().await;
    let (status, v, _) = post_raw(
        &h,
        r#"{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}"#,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "model_not_found");
    assert_eq!(v["error"]["param"], "model");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chat, solo")
    );
    h.stop().await;
}

#[tokio::test]
async fn oversized_body_is_a_413() {
    let h = two_routes().await;
    let big = format!(
        r#"{{"model":"chat","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(70_000)
    );
    let (status, v, _) = post_raw(&h, big).await;
    assert_eq!(status, 413);
    assert_eq!(v["error"]["code"], "request_too_large");
    // Also without a declared length (chunked upload).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 4096])).collect();
    let (status, _, _) = post_raw(
        &h,
        reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let h = two_routes().await;
    let (status, body) = h.get("/v1/nope").await;
    assert_eq!(status, 404);
    assert_openai_shape(&serde_json::from_str(&body).unwrap());
    let (status, body) = h.get("/v1/chat/completions").await;
    assert_eq!(status, 404);
    assert!(body.contains("GET /v1/chat/completions"));
    h.stop().await;
}

#[tokio::test]
async fn garbage_never_breaks_the_server() {
    let h = two_routes().await;
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff, 0xfe, 0x00],
        b"null".to_vec(),
        b"{\"model\":null,\"messages\":null}".to_vec(),
        b"{\"model\":\"chat\",\"messages\":[null]}".to_vec(),
        b"{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":5}]}".to_vec(),
        "{\"model\":\"chat\u{0}\",\"messages\":[]}"
            .as_bytes()
            .to_vec(),
        vec![b'['; 10_000],
    ];
    for input in inputs {
        let (status, v, _) = post_raw(&h, input.clone()).await;
        assert!((400..500).contains(&status), "{input:?} → {status}");
        assert_openai_shape(&v);
    }
    assert_eq!(h.get("/healthz").await.0, 200);
    h.stop().await;
}

/// The endpoints beside chat (Responses, legacy completions, embeddings)
/// answer every error the pipeline or the edge makes in OpenAI's shape,
/// with the request id: auth, body too large, not JSON, unknown model.
#[tokio::test]
async fn the_newer_openai_endpoints_answer_every_error_in_openais_shape() {
    // One tenant with a key (`endpoints.rs`), a small body limit.
    let config = format!(
        "server:\n  max-body-bytes: 1024\n{}",
        crate::endpoints::KEYED
    );
    let h = signalbox_testkit::Harness::start(
        &config,
        &["primary"],
        &[("ACME_KEY", "acme-key".into())],
    )
    .await;
    let bodies = [
        ("/v1/responses", r#"{"model": "nope", "input": "hi"}"#),
        ("/v1/completions", r#"{"model": "nope", "prompt": "hi"}"#),
        ("/v1/embeddings", r#"{"model": "nope", "input": "hi"}"#),
    ];
    for (path, unknown_model) in bodies {
        let big = format!(
            "{{\"model\": \"chat\", \"input\": \"{}\"}}",
            "a".repeat(4096)
        );
        let cases: [(Option<&str>, String, u16); 4] = [
            (None, unknown_model.to_owned(), 401),
            (Some("acme-key"), big, 413),
            (Some("acme-key"), "{\"model\": ".to_owned(), 400),
            (Some("acme-key"), unknown_model.to_owned(), 404),
        ];
        for (key, body, want) in cases {
            let mut req = h
                .client
                .post(h.url(path))
                .header("content-type", "application/json")
                .header("x-request-id", "err-new-1")
                .body(body);
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), want, "{path}");
            assert_eq!(header(&resp, "x-request-id"), "err-new-1", "{path}");
            let v: Value = resp.json().await.unwrap();
            assert_openai_shape(&v);
        }
    }
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}
