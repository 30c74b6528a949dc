//! The endpoints beside chat: `POST /v1/messages/count_tokens` (answered
//! by the gateway's estimate, authenticated, in Anthropic's shape) and
//! `GET /v1/models` and `GET /v1/models/{id}` (authenticated as chat is).

use serde_json::{Value, json};
use signalbox_testkit::Harness;

pub(crate) const KEYED: &str = r#"
tenants:
  - { id: acme, api-keys: [{ env: ACME_KEY }] }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
routes:
  - { id: primary, provider: primary, model: m, region: us }
aliases:
  - { name: chat, routes: [primary] }
"#;

async fn keyed() -> Harness {
    Harness::start(KEYED, &["primary"], &[("ACME_KEY", "acme-key".into())]).await
}

async fn count(h: &Harness, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut req = h
        .client
        .post(h.url("/v1/messages/count_tokens"))
        .header("anthropic-version", "2023-06-01")
        .json(body);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    req.send().await.unwrap()
}

fn messages(text: &str) -> Value {
    json!({"model": "chat", "messages": [{"role": "user", "content": text}]})
}

#[tokio::test]
async fn tokens_are_counted_locally_for_an_authenticated_caller() {
    let h = keyed().await;
    let resp = count(&h, &messages("hello there"), Some("acme-key")).await;
    assert_eq!(resp.status(), 200);
    assert!(!resp.headers()["x-signalbox-token-method"].is_empty());
    let short: Value = resp.json().await.unwrap();
    let long: Value = count(&h, &messages(&"many words ".repeat(200)), Some("acme-key"))
        .await
        .json()
        .await
        .unwrap();
    let (short, long) = (
        short["input_tokens"].as_u64().unwrap(),
        long["input_tokens"].as_u64().unwrap(),
    );
    assert!(short > 0 && long > short + 200, "{short} vs {long}");
    // A document block (only Anthropic routes carry it) counts too.
    let doc = json!({"model": "chat", "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x ".repeat(400)}},
        {"type": "text", "text": "summarise"}]}]});
    let with_doc: Value = count(&h, &doc, Some("acme-key"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        with_doc["input_tokens"].as_u64().unwrap() > 300,
        "{with_doc}"
    );
    // Counting never calls a provider.
    assert_eq!(h.mock("primary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn counting_is_refused_in_anthropics_shape_without_a_key_or_a_known_model() {
    let h = keyed().await;
    let resp = count(&h, &messages("hi"), None).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");

    let mut body = messages("hi");
    body["model"] = json!("nope");
    let v: Value = count(&h, &body, Some("acme-key"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["type"], "not_found_error", "{v}");

    let v: Value = count(&h, &json!({"model": "chat"}), Some("acme-key"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("messages"),
        "{v}"
    );
    h.stop().await;
}

/// `GET path` with `key` as a bearer token, when given.
async fn get(h: &Harness, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = h.client.get(h.url(path));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_model_is_its_alias_and_an_unknown_one_is_a_404_naming_the_known() {
    let h = keyed().await;
    let v: Value = get(&h, "/v1/models/chat", Some("acme-key"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["id"], "chat");
    assert_eq!(v["object"], "model");
    let resp = get(&h, "/v1/models/gpt-9", Some("acme-key")).await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("chat"),
        "{v}"
    );
    h.stop().await;
}

/// The model endpoints are authenticated as chat is: anyone could
/// otherwise enumerate the aliases.
#[tokio::test]
async fn models_need_a_valid_key_when_anonymous_access_is_off() {
    let h = keyed().await;
    for path in ["/v1/models", "/v1/models/chat", "/v1/models/gpt-9"] {
        for key in [None, Some("wrong-key")] {
            let resp = get(&h, path, key).await;
            assert_eq!(resp.status(), 401, "{path} {key:?}");
            assert!(!crate::header(&resp, "x-request-id").is_empty(), "{path}");
            let v: Value = resp.json().await.unwrap();
            // OpenAI's shape, naming no alias.
            assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
            assert_eq!(v["error"]["code"], "invalid_api_key", "{v}");
            assert!(!v.to_string().contains("chat"), "{path}: {v}");
        }
    }
    let resp = get(&h, "/v1/models", Some("acme-key")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list", "{v}");
    assert_eq!(v["data"][0]["id"], "chat", "{v}");
    // Anthropic SDKs send the key as `x-api-key`: accepted too.
    let resp = h
        .client
        .get(h.url("/v1/models/chat"))
        .header("x-api-key", "acme-key")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    h.stop().await;
}

/// With anonymous access on, the model endpoints answer without a key, as
/// chat does.
#[tokio::test]
async fn models_answer_anonymous_callers_when_anonymous_access_is_on() {
    let yaml = KEYED.replace(
        "tenants:\n",
        "anonymous-tenant: public\ntenants:\n  - { id: public }\n",
    );
    let h = Harness::start(&yaml, &["primary"], &[("ACME_KEY", "acme-key".into())]).await;
    assert_eq!(get(&h, "/v1/models", None).await.status(), 200);
    assert_eq!(get(&h, "/v1/models/chat", None).await.status(), 200);
    assert_eq!(
        get(&h, "/v1/models/chat", Some("acme-key")).await.status(),
        200
    );
    assert_eq!(
        get(&h, "/v1/models/chat", Some("wrong")).await.status(),
        401
    );
    h.stop().await;
}
