//! Operator actions over the admin API, end to end against mocks on port 0:
//! a drain moves new traffic while a request in flight finishes; an action
//! expires by itself and survives a reload; roles (read-only, scoped
//! operator, admin) and a tenant's key are refused what they may not do,
//! with errors naming the problem; throttle, fail-closed, pin, disabled
//! tools and escalation each change routing as documented; every call is
//! audited. Two gateways on one real Redis see the same action (ignored
//! without redis-server, like the other Redis tests).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use signalbox_config::{OverlayVars, load_file};
use signalbox_gateway::{Gateway, GatewayHandle, GatewayOptions, ReloadSource};
use signalbox_mock::{Faults, MockHandle, MockOptions, MockProvider};
use signalbox_testkit::{any_port, chat_body, init_tls, temp_db};

use crate::header;

const ACME_KEY: &str = "sk-acme-tenant";

fn document(extra_alias: &str, state: &str) -> String {
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

struct Ops {
    gateway: GatewayHandle,
    primary: MockHandle,
    secondary: MockHandle,
    client: reqwest::Client,
    path: PathBuf,
}

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
    async fn start() -> Self {
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
        let dir = temp_db().with_extension("ops");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("signalbox.yaml");
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
        }
    }

    async fn gateway(
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
            decision_log_path: Some(temp_db()),
            ..GatewayOptions::default()
        };
        Gateway::with_options(config, options)
            .unwrap()
            .spawn(any_port())
            .await
            .unwrap()
    }

    async fn chat_on(
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

    async fn chat(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        self.chat_on(&self.gateway, &chat_body("chat", "hi"), extra)
            .await
    }

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        admin_on(&self.client, &self.gateway, method, path, token, body).await
    }

    async fn act(
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

async fn admin_on(
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

fn drain(route: &str) -> Value {
    json!({"kind": "drain", "route": route})
}

#[tokio::test]
async fn a_drain_moves_new_traffic_while_a_request_in_flight_finishes() {
    let ops = Arc::new(Ops::start().await);
    ops.primary.set_faults(Faults {
        latency_ms: 800,
        ..Faults::default()
    });
    let in_flight = {
        let ops = Arc::clone(&ops);
        tokio::spawn(async move {
            let r = ops.chat(&[]).await;
            (
                r.status().as_u16(),
                header(&r, "x-signalbox-route").to_string(),
            )
        })
    };
    for _ in 0..200 {
        if ops.primary.stats().requests == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        ops.primary.stats().requests,
        1,
        "the first request is on primary"
    );
    let (status, action) = ops
        .act(
            "oncall",
            drain("primary-route"),
            "provider incident",
            Some("30m"),
        )
        .await;
    assert_eq!(status, 201, "{action}");
    let id = action["id"].as_str().unwrap().to_string();
    assert_eq!(action["who"], json!({"name": "oncall", "role": "operator"}));
    assert!(action["expires_ms"].as_u64().unwrap() > action["created_ms"].as_u64().unwrap());

    let r = ops.chat(&[("x-request-id", "after-drain")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&r, "x-signalbox-operator-actions"), id);
    assert_eq!(header(&r, "x-signalbox-degraded"), "fallback-route");
    assert_eq!(
        in_flight.await.unwrap(),
        (200, "primary-route".into()),
        "in flight finished"
    );
    assert_eq!(
        ops.primary.stats().requests,
        1,
        "no new request on the drained route"
    );

    // Explained in the record: the skip is typed and names the action.
    let (_, found) = ops
        .admin(
            reqwest::Method::GET,
            "/admin/decisions/after-drain",
            "viewer",
            None,
        )
        .await;
    assert_eq!(found["skipped"][0]["kind"], "operator");
    assert_eq!(found["skipped"][0]["action"], id.as_str());
    assert_eq!(found["operator_actions"], json!([id]));
    let explained = signalbox_decision_log::explain(&serde_json::from_value(found).unwrap());
    assert!(explained.contains(&id), "{explained}");

    // Listed and shown on the route; then reverted with a reason.
    let (status, list) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["actions"][0]["id"], id.as_str());
    let (_, routes) = ops
        .admin(reqwest::Method::GET, "/admin/routes", "viewer", None)
        .await;
    assert_eq!(routes["routes"][0]["operator"]["id"], id.as_str());
    let path = format!("/admin/actions/{id}");
    let (status, done) = ops
        .admin(
            reqwest::Method::DELETE,
            &path,
            "oncall",
            Some(json!({"reason": "provider recovered"})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["reverted"]["id"], id.as_str());
    ops.primary.set_faults(Faults::default());
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "primary-route");
    let (status, _) = ops
        .admin(
            reqwest::Method::DELETE,
            &path,
            "oncall",
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(status, 404, "reverted once");

    // Every call is audited with who and why.
    let (_, audit) = ops
        .admin(reqwest::Method::GET, "/admin/audit", "adm", None)
        .await;
    let entries = audit["audit"].as_array().unwrap();
    let created = entries
        .iter()
        .find(|e| e["method"] == "POST" && e["status"] == 201)
        .unwrap();
    assert_eq!(created["who"], "oncall");
    assert_eq!(created["reason"], "provider incident");
    assert_eq!(created["action"], id.as_str());
    assert!(
        entries
            .iter()
            .any(|e| e["method"] == "DELETE" && e["reason"] == "provider recovered")
    );
    assert!(
        entries
            .iter()
            .any(|e| e["method"] == "GET" && e["who"] == "viewer")
    );
}

#[tokio::test]
async fn an_action_expires_by_itself_and_survives_a_reload() {
    let ops = Ops::start().await;
    let (status, _) = ops
        .act("drainer", drain("primary-route"), "maintenance", Some("1s"))
        .await;
    assert_eq!(status, 201);
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    let mut restored = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if header(&ops.chat(&[]).await, "x-signalbox-route") == "primary-route" {
            restored = true;
            break;
        }
    }
    assert!(restored, "the drain expired by itself");
    let (_, list) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(list["actions"], json!([]));

    // A drain without a TTL outlives a reload (it lives in the state).
    let before = ops.primary.stats().requests;
    let (status, _) = ops
        .act("oncall", drain("primary-route"), "incident", None)
        .await;
    assert_eq!(status, 201);
    std::fs::write(
        &ops.path,
        document("  - { name: chat2, routes: [secondary-route] }", ""),
    )
    .unwrap();
    let (status, reloaded) = ops
        .admin(reqwest::Method::POST, "/admin/reload", "adm", None)
        .await;
    assert_eq!(
        (status, reloaded["status"].as_str()),
        (200, Some("reloaded")),
        "{reloaded}"
    );
    let r = ops.chat(&[]).await;
    assert_eq!(
        header(&r, "x-signalbox-route"),
        "secondary-route",
        "still drained after reload"
    );
    assert_eq!(ops.primary.stats().requests, before);
}

#[tokio::test]
async fn roles_and_tenant_keys_are_refused_what_they_may_not_do() {
    let ops = Ops::start().await;
    let post = |token: &'static str, body: Value| {
        let ops = &ops;
        async move {
            ops.admin(reqwest::Method::POST, "/admin/actions", token, Some(body))
                .await
        }
    };
    let good = json!({"action": drain("primary-route"), "reason": "incident"});
    let (status, e) = post("viewer", good.clone()).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{e}"
    );
    let (status, _) = ops
        .admin(reqwest::Method::GET, "/admin/actions", "viewer", None)
        .await;
    assert_eq!(status, 200, "read-only may look");
    let pin = json!({"action": {"kind": "pin", "alias": "chat", "route": "secondary-route"}, "reason": "x"});
    let (status, e) = post("drainer", pin).await;
    assert_eq!(status, 403);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not pin"),
        "{e}"
    );
    let (status, e) = post(ACME_KEY, good.clone()).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("invalid_admin_token"))
    );
    let (status, _) = ops
        .admin(reqwest::Method::GET, "/admin/routes", ACME_KEY, None)
        .await;
    assert_eq!(status, 401, "a tenant key is not an admin token");
    let (status, e) = ops
        .admin(reqwest::Method::POST, "/admin/reload", "oncall", None)
        .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (403, Some("forbidden_role"))
    );

    // Clear 4xx naming the field.
    for (body, param, words) in [
        (
            json!({"action": drain("nope"), "reason": "x"}),
            "action.route",
            "unknown route \"nope\"",
        ),
        (
            json!({"action": drain("primary-route")}),
            "reason",
            "reason is required",
        ),
        (
            json!({"action": drain("primary-route"), "reason": "x", "ttl": "forever"}),
            "ttl",
            "not a duration",
        ),
        (
            json!({"action": {"kind": "throttle", "target": {"tenant": "globex"}, "requests-per-minute": 1}, "reason": "x"}),
            "action.target",
            "unknown tenant",
        ),
    ] {
        let (status, e) = post("oncall", body.clone()).await;
        assert_eq!(status, 400, "{body} → {e}");
        assert_eq!(e["error"]["param"], param, "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(words),
            "{e}"
        );
    }
    let (status, e) = post(
        "oncall",
        json!({"action": {"kind": "drain", "rout": "x"}, "reason": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("rout"),
        "{e}"
    );
    let (_, created) = post("oncall", good).await;
    let path = format!("/admin/actions/{}", created["id"].as_str().unwrap());
    let (status, e) = ops
        .admin(reqwest::Method::DELETE, &path, "oncall", None)
        .await;
    assert_eq!(
        (status, e["error"]["param"].as_str()),
        (400, Some("reason"))
    );
    let (status, _) = ops
        .admin(
            reqwest::Method::DELETE,
            &path,
            "viewer",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = ops
        .admin(
            reqwest::Method::DELETE,
            "/admin/actions/act-none",
            "oncall",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn throttle_fail_closed_pin_tools_and_escalation_change_routing() {
    let ops = Ops::start().await;
    // Throttle the tenant: the second request in the minute is a 429.
    let throttle =
        json!({"kind": "throttle", "target": {"tenant": "acme"}, "requests-per-minute": 1});
    let (status, t) = ops.act("oncall", throttle, "runaway tenant", None).await;
    assert_eq!(status, 201, "{t}");
    assert_eq!(ops.chat(&[]).await.status(), 200);
    let r = ops.chat(&[]).await;
    assert_eq!(r.status(), 429);
    assert!(!header(&r, "retry-after").is_empty());
    let revert = json!({"reason": "done"});
    let t_path = format!("/admin/actions/{}", t["id"].as_str().unwrap());
    ops.admin(
        reqwest::Method::DELETE,
        &t_path,
        "oncall",
        Some(revert.clone()),
    )
    .await;

    // Fail-closed: a failing primary is not failed over.
    ops.primary.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let (_, fc) = ops
        .act(
            "oncall",
            json!({"kind": "fail-closed", "target": {"alias": "chat"}}),
            "high-risk flow",
            None,
        )
        .await;
    let r = ops.chat(&[]).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "fail_closed", "{body}");
    assert_eq!(ops.secondary.stats().requests, 0);
    let fc_path = format!("/admin/actions/{}", fc["id"].as_str().unwrap());
    ops.admin(
        reqwest::Method::DELETE,
        &fc_path,
        "oncall",
        Some(revert.clone()),
    )
    .await;
    ops.primary.set_faults(Faults::default());

    // Pin chat to the eu route; a request bound to us is refused, not moved.
    let (_, pin) = ops
        .act(
            "oncall",
            json!({"kind": "pin", "alias": "chat", "route": "secondary-route"}),
            "canary",
            None,
        )
        .await;
    let r = ops.chat(&[]).await;
    assert_eq!(header(&r, "x-signalbox-route"), "secondary-route");
    let before = ops.primary.stats().requests;
    let r = ops.chat(&[("x-signalbox-region", "us")]).await;
    assert_eq!(
        r.status().as_u16() / 100,
        4,
        "refused, not served out of region"
    );
    let text = r.text().await.unwrap();
    assert!(text.contains(pin["id"].as_str().unwrap()), "{text}");
    assert_eq!(ops.primary.stats().requests, before);
    let pin_path = format!("/admin/actions/{}", pin["id"].as_str().unwrap());
    ops.admin(
        reqwest::Method::DELETE,
        &pin_path,
        "oncall",
        Some(revert.clone()),
    )
    .await;

    // Disabled tools: served without them, marked degraded.
    ops.act(
        "oncall",
        json!({"kind": "disable-tools", "target": {"tenant": "acme"}}),
        "tool misuse",
        None,
    )
    .await;
    let with_tools = json!({
        "model": "chat",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    });
    let r = ops.chat_on(&ops.gateway, &with_tools, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-signalbox-degraded"), "tools-disabled");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["signalbox"]["degraded"],
        json!(["tools-disabled"]),
        "{body}"
    );

    // Escalation for the intent: the escalation path, nothing sent.
    let before = ops.primary.stats().requests + ops.secondary.stats().requests;
    ops.act(
        "oncall",
        json!({"kind": "escalate", "intent": "general"}),
        "needs a human",
        None,
    )
    .await;
    let r = ops.chat(&[]).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "human_escalation", "{body}");
    assert_eq!(
        ops.primary.stats().requests + ops.secondary.stats().requests,
        before
    );
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn two_replicas_on_one_redis_see_the_same_action() {
    let redis = signalbox_testkit::redis::RedisServer::start();
    let state = "state:\n  backend: redis\n  redis-url: { env: REDIS_URL }\n  key-prefix: 'ops:'\n";
    let ops = Ops::start().await;
    let dir = temp_db().with_extension("redis");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signalbox.yaml");
    std::fs::write(&path, document("", state)).unwrap();
    let url = redis.url();
    let a = Ops::gateway(&path, &ops.primary, &ops.secondary, Some(&url)).await;
    let b = Ops::gateway(&path, &ops.primary, &ops.secondary, Some(&url)).await;
    let body = json!({"action": drain("primary-route"), "reason": "incident", "ttl": "10m"});
    let (status, created) = admin_on(
        &ops.client,
        &a,
        reqwest::Method::POST,
        "/admin/actions",
        "oncall",
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (_, listed) = admin_on(
        &ops.client,
        &b,
        reqwest::Method::GET,
        "/admin/actions",
        "viewer",
        None,
    )
    .await;
    assert_eq!(
        listed["actions"][0]["id"], created["id"],
        "replica b lists it"
    );
    let mut applied = false;
    for _ in 0..100 {
        let r = ops.chat_on(&b, &chat_body("chat", "hi"), &[]).await;
        if header(&r, "x-signalbox-route") == "secondary-route" {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(applied, "replica b applies replica a's drain");
    let path = format!("/admin/actions/{}", created["id"].as_str().unwrap());
    let (status, _) = admin_on(
        &ops.client,
        &b,
        reqwest::Method::DELETE,
        &path,
        "oncall",
        Some(json!({"reason": "recovered"})),
    )
    .await;
    assert_eq!(status, 200, "reverted through the other replica");
    let mut back = false;
    for _ in 0..100 {
        let r = ops.chat_on(&a, &chat_body("chat", "hi"), &[]).await;
        if header(&r, "x-signalbox-route") == "primary-route" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back, "replica a sees the revert");
}
