//! The `Authorization` scheme is matched case-insensitively (RFC 9110
//! §11.1), for tenant keys and the admin token alike.

use signalbox_testkit::{Harness, chat_body};

const KEYED: &str = r#"
admin:
  token: { env: ADMIN_TOKEN }
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
    Harness::start(
        KEYED,
        &["primary"],
        &[
            ("ADMIN_TOKEN", "admin-secret".into()),
            ("ACME_KEY", "acme-key".into()),
        ],
    )
    .await
}

#[tokio::test]
async fn tenant_keys_accept_any_case_of_the_bearer_scheme() {
    let h = keyed().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} acme-key");
        let resp = h
            .chat_with(&chat_body("chat", "hi"), &[("authorization", &auth)])
            .await;
        assert_eq!(resp.status(), 200, "{auth}: {}", resp.text().await.unwrap());
    }
    let resp = h
        .chat_with(
            &chat_body("chat", "hi"),
            &[("authorization", "BEARER wrong")],
        )
        .await;
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("missing"),
        "a key was sent, so it is unknown, not missing: {body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn the_admin_token_accepts_any_case_of_the_bearer_scheme() {
    let h = keyed().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let resp = h
            .client
            .get(h.url("/admin/routes"))
            .header("authorization", format!("{scheme} admin-secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{scheme}");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_auth_refusal_on_messages_is_anthropic_shaped_with_the_request_id() {
    let h = keyed().await;
    let body = serde_json::json!({"model": "chat", "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]});
    let resp = h
        .client
        .post(h.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .header("x-request-id", "auth-msg-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(crate::header(&resp, "x-request-id"), "auth-msg-1");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    assert_eq!(v["request_id"], "auth-msg-1", "{v}");
    h.stop().await;
}
