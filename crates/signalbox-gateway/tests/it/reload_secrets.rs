//! `POST /admin/reload` resolves secrets as `serve` and `check` do: a key
//! file that is too large or not a regular file is refused, naming its
//! config path, and the running configuration keeps serving.

use std::path::Path;
use std::sync::Arc;

use signalbox_config::{OverlayVars, load_file};
use signalbox_gateway::{Gateway, GatewayOptions, ReloadSource};
use signalbox_mock::{MockOptions, MockProvider};
use signalbox_testkit::{any_port, chat_body, init_tls, temp_dir};

const ADMIN: &str = "reload-secrets-admin";

/// One provider whose key is read from `key`, serving `model`.
fn config(key: &Path, model: &str) -> String {
    format!(
        r#"
providers:
  - {{ name: a, kind: openai-compatible, base-url: "${{A_URL}}", api-key: {{ file: "{}" }} }}
routes:
  - {{ id: a, provider: a, model: {model}, region: us }}
admin:
  token: {{ env: ADMIN_TOKEN }}
aliases:
  - {{ name: chat, routes: [a] }}
"#,
        key.display()
    )
}

#[tokio::test]
async fn reload_refuses_an_oversized_or_special_key_file_and_keeps_serving() {
    init_tls();
    let mock = MockProvider::start(any_port(), MockOptions::default())
        .await
        .unwrap();
    let vars = OverlayVars::new([
        ("A_URL", mock.base_url()),
        ("ADMIN_TOKEN", ADMIN.to_string()),
    ]);
    let dir = temp_dir("secrets");
    let (path, key) = (dir.path().join("signalbox.yaml"), dir.path().join("key"));
    std::fs::write(&key, "sk-ok\n").unwrap();
    std::fs::write(&path, config(&key, "m")).unwrap();
    let options = GatewayOptions {
        reload: Some(ReloadSource {
            path: path.clone(),
            vars: Arc::new(vars.clone()),
            watch: false,
        }),
        decision_log_path: Some(dir.path().join("decisions.db")),
        breaker_store: None,
        action_store: None,
        quality_state: None,
    };
    let gateway = Gateway::with_options(load_file(&path, &vars).unwrap(), options)
        .unwrap()
        .spawn(any_port())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let reload = || async {
        let resp = client
            .post(format!("{}/admin/reload", gateway.base_url()))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<serde_json::Value>().await.unwrap())
    };

    // A one-line key of 100 KiB: valid text, but no key is that large.
    std::fs::write(&key, "k".repeat(100 * 1024)).unwrap();
    // The document changes too, so the reload is not skipped as identical.
    std::fs::write(&path, config(&key, "m2")).unwrap();
    let (status, body) = reload().await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "providers[0].api-key: secret file {} is larger than 64 KiB",
            key.display()
        )),
        "{message}"
    );

    std::fs::remove_file(&key).unwrap();
    std::fs::create_dir(&key).unwrap();
    let (status, body) = reload().await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("is not a regular file (a directory)"),
        "{message}"
    );

    let resp = client
        .post(format!("{}/v1/chat/completions", gateway.base_url()))
        .json(&chat_body("chat", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the old configuration keeps serving");
}
