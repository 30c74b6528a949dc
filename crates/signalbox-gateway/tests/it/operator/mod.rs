//! Operator actions over the admin API, end to end against mocks on port 0:
//! a drain moves new traffic while a request in flight finishes; an action
//! expires by itself and survives a reload; roles (read-only, scoped
//! operator, admin) and a tenant's key are refused what they may not do,
//! with errors naming the problem; throttle, fail-closed, pin, disabled
//! tools and escalation each change routing as documented; every call is
//! audited. Two gateways on one real Redis see the same action (ignored
//! without redis-server, like the other Redis tests). This file has the
//! setup; `drain.rs`, `access.rs`, `routing.rs` and `every_kind.rs` (each
//! kind's expiry, reload survival and replicas; tokens per minute) the
//! tests.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use signalbox_config::{OverlayVars, load_file};
use signalbox_gateway::{Gateway, GatewayHandle, GatewayOptions, ReloadSource};
use signalbox_mock::{MockHandle, MockOptions, MockProvider};
use signalbox_testkit::{TempDir, any_port, chat_body, init_tls, temp_dir};

mod access;
mod drain;
mod every_kind;
mod routing;

pub(super) const ACME_KEY: &str = "sk-acme-tenant";

pub(super) fn document(extra_alias: &str, state: &str) -> String {
    format!(
        r#"
providers:
  - {{ name: primary, kind: openai-compatible, base-url: "${{PRIMARY_URL}}", timeouts: {{ first-byte: 10s }} }}
  - {{ name: secondary, kind: openai-compatible, base-url: "${{SECONDARY_URL}}" }}
routes:
  - {{ id: primary-route, provider: primary, model: m, region: us, supports: {{ tools: true }} }}
  - {{ id: secondary-route, provider: secondary, model: m, region: eu, supports: {{ tools: true }} }}
aliases:
  - {{ name: chat, routes: [primary-route, secondary-route] }}
{extra_alias}
tenants:
  - {{ id: acme, api-keys: [{{ env: ACME_KEY }}], allowed-regions: [us, eu] }}
admin:
  token: {{ env: ADMIN_TOKEN }}
  tokens:
    - {{ name: oncall, role: operator, token: {{ env: ONCALL_TOKEN }} }}
    - {{ name: drainer, role: operator, token: {{ env: DRAINER_TOKEN }}, actions: [drain] }}
    - {{ name: viewer, role: read-only, token: {{ env: VIEWER_TOKEN }} }}
{state}
"#
    )
}

pub(super) struct Ops {
    pub(super) gateway: GatewayHandle,
    pub(super) primary: MockHandle,
    pub(super) secondary: MockHandle,
    pub(super) client: reqwest::Client,
    pub(super) path: PathBuf,
    /// Holds the configuration and every gateway's decision log; removed
    /// when the test ends (the gateways, made after it, stop first).
    dir: TempDir,
}

/// Numbers the gateways' decision logs.
static NEXT_LOG: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn vars(primary: &MockHandle, secondary: &MockHandle, redis: Option<&str>) -> OverlayVars {
    let mut v = vec![
        ("PRIMARY_URL".to_string(), primary.base_url()),
        ("SECONDARY_URL".to_string(), secondary.base_url()),
        ("ACME_KEY".to_string(), ACME_KEY.to_string()),
        ("ADMIN_TOKEN".to_string(), "adm".to_string()),
        ("ONCALL_TOKEN".to_string(), "oncall".to_string()),
        ("DRAINER_TOKEN".to_string(), "drainer".to_string()),
        ("VIEWER_TOKEN".to_string(), "viewer".to_string()),
    ];
    if let Some(url) = redis {
        v.push(("REDIS_URL".to_string(), url.to_string()));
    }
    OverlayVars::new(v)
}

impl Ops {
    pub(super) async fn start() -> Self {
        init_tls();
        let mock = |name: &str| MockOptions {
            name: name.into(),
            ..MockOptions::default()
        };
        let primary = MockProvider::start(any_port(), mock("primary"))
            .await
            .unwrap();
        let secondary = MockProvider::start(any_port(), mock("secondary"))
            .await
            .unwrap();
        let dir = temp_dir("ops");
        let path = dir.path().join("signalbox.yaml");
        std::fs::write(&path, document("", "")).unwrap();
        let gateway = Self::gateway(&path, &primary, &secondary, None).await;
        Self {
            gateway,
            primary,
            secondary,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            path,
            dir,
        }
    }

    pub(super) async fn gateway(
        path: &std::path::Path,
        primary: &MockHandle,
        secondary: &MockHandle,
        redis: Option<&str>,
    ) -> GatewayHandle {
        let config = load_file(path, &vars(primary, secondary, redis)).unwrap();
        let options = GatewayOptions {
            reload: Some(ReloadSource {
                path: path.to_owned(),
                vars: Arc::new(vars(primary, secondary, redis)),
                watch: false,
            }),
            // Beside the configuration, one log per gateway.
            decision_log_path: Some(path.with_file_name(format!(
                "decisions-{}.db",
                NEXT_LOG.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ))),
            ..GatewayOptions::default()
        };
        Gateway::with_options(config, options)
            .unwrap()
            .spawn(any_port())
            .await
            .unwrap()
    }

    pub(super) async fn chat_on(
        &self,
        gateway: &GatewayHandle,
        body: &Value,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/v1/chat/completions", gateway.base_url()))
            .bearer_auth(ACME_KEY)
            .json(body);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    pub(super) async fn chat(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        self.chat_on(&self.gateway, &chat_body("chat", "hi"), extra)
            .await
    }

    pub(super) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        admin_on(&self.client, &self.gateway, method, path, token, body).await
    }

    /// Rewrites the configuration (one more alias) and reloads it.
    pub(super) async fn reload_changed(&self) -> Value {
        std::fs::write(
            &self.path,
            document("  - { name: chat2, routes: [secondary-route] }", ""),
        )
        .unwrap();
        let (status, reloaded) = self
            .admin(reqwest::Method::POST, "/admin/reload", "adm", None)
            .await;
        assert_eq!(
            (status, reloaded["status"].as_str()),
            (200, Some("reloaded")),
            "{reloaded}"
        );
        reloaded
    }

    pub(super) async fn act(
        &self,
        token: &str,
        action: Value,
        reason: &str,
        ttl: Option<&str>,
    ) -> (u16, Value) {
        let mut body = json!({"action": action, "reason": reason});
        if let Some(ttl) = ttl {
            body["ttl"] = json!(ttl);
        }
        self.admin(reqwest::Method::POST, "/admin/actions", token, Some(body))
            .await
    }
}

/// Two gateways (replicas) in front of `ops`'s mocks, sharing the state
/// of a real Redis (keys under `prefix`); the server lives as long as the
/// returned handle.
pub(super) async fn replicas(
    ops: &Ops,
    prefix: &str,
) -> (
    signalbox_testkit::redis::RedisServer,
    GatewayHandle,
    GatewayHandle,
) {
    let redis = signalbox_testkit::redis::RedisServer::start();
    let state = format!(
        "state:\n  backend: redis\n  redis-url: {{ env: REDIS_URL }}\n  key-prefix: '{prefix}'\n"
    );
    let name = format!("redis-{}.yaml", prefix.trim_end_matches(':'));
    let path = ops.dir.path().join(name);
    std::fs::write(&path, document("", &state)).unwrap();
    let url = redis.url();
    let a = Ops::gateway(&path, &ops.primary, &ops.secondary, Some(&url)).await;
    let b = Ops::gateway(&path, &ops.primary, &ops.secondary, Some(&url)).await;
    (redis, a, b)
}

/// Creates `action` (10 min TTL) on `gateway` as the operator token.
pub(super) async fn create_on(
    client: &reqwest::Client,
    gateway: &GatewayHandle,
    action: Value,
) -> (u16, Value) {
    let body = json!({"action": action, "reason": "incident", "ttl": "10m"});
    let post = reqwest::Method::POST;
    admin_on(
        client,
        gateway,
        post,
        "/admin/actions",
        "oncall",
        Some(body),
    )
    .await
}

/// Reverts action `id` on `gateway` as the operator token; the status.
pub(super) async fn revert_on(client: &reqwest::Client, gateway: &GatewayHandle, id: &str) -> u16 {
    let path = format!("/admin/actions/{id}");
    let body = Some(json!({"reason": "recovered"}));
    let delete = reqwest::Method::DELETE;
    admin_on(client, gateway, delete, &path, "oncall", body)
        .await
        .0
}

pub(super) async fn admin_on(
    client: &reqwest::Client,
    gateway: &GatewayHandle,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client
        .request(method, format!("{}{path}", gateway.base_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(super) fn drain(route: &str) -> Value {
    json!({"kind": "drain", "route": route})
}
