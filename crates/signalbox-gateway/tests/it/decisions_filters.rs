//! `GET /admin/decisions` asked by every shared identifier, end to end:
//! four requests that differ in intent, tools, prompt version, serving
//! route and provider, degradation and an operator action, then one query
//! per identifier (tenant, alias, route, provider, model version, prompt
//! version, tools, intent, outcome, degraded step, policy version, action,
//! time range) and one aggregate per grouping, whose counts add up.

use serde_json::{Value, json};
use signalbox_core::clock::unix_ms;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, chat_body};

use crate::header;

const CONFIG: &str = r#"
resilience:
  health-check: { mode: off }
providers:
  - { name: primary, kind: openai-compatible, base-url: "${PRIMARY_URL}" }
  - { name: secondary, kind: openai-compatible, base-url: "${SECONDARY_URL}" }
routes:
  - { id: primary-route, provider: primary, model: m, region: us, supports: { tools: true } }
  - { id: secondary-route, provider: secondary, model: m, region: us, supports: { tools: true } }
aliases:
  - { name: chat, routes: [primary-route, secondary-route] }
prompts:
  - id: support
    versions:
      - { version: v1, template: "Support for {{product}}." }
admin:
  token: { env: ADMIN_TOKEN }
  tokens:
    - { name: oncall, role: operator, token: { env: ONCALL_TOKEN } }
"#;

/// The ids `GET /admin/decisions?{query}` lists, sorted.
async fn ids(h: &Harness, query: &str) -> Vec<String> {
    let body = h
        .admin_json(&format!("/admin/decisions?{query}"), "adm")
        .await;
    let mut out: Vec<String> = body["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}: {body}"))
        .iter()
        .map(|d| d["caller_request_id"].as_str().unwrap_or("-").to_owned())
        .collect();
    out.sort();
    out
}

/// Sends `body` as request `id` with `headers`; its policy version.
async fn send(h: &Harness, id: &str, body: &Value, headers: &[(&str, &str)]) -> String {
    let mut all = vec![("x-request-id", id)];
    all.extend_from_slice(headers);
    let resp = h.chat_with(body, &all).await;
    assert_eq!(resp.status(), 200, "{id}");
    header(&resp, "x-signalbox-policy-version").to_owned()
}

#[tokio::test]
async fn decisions_filter_and_group_by_every_shared_identifier() {
    let vars = [
        ("ADMIN_TOKEN", "adm".to_owned()),
        ("ONCALL_TOKEN", "oncall".to_owned()),
    ];
    let h = Harness::start(CONFIG, &["primary", "secondary"], &vars).await;
    let start = unix_ms();
    let plain = chat_body("chat", "hi");
    let version = send(&h, "f-intent", &plain, &[("x-signalbox-intent", "search")]).await;
    let tools = json!({
        "model": "chat",
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    });
    send(&h, "f-tools", &tools, &[]).await;
    let prompt = [
        ("x-signalbox-prompt", "support@v1"),
        ("x-signalbox-prompt-variables", r#"{"product":"Acme"}"#),
    ];
    send(&h, "f-prompt", &plain, &prompt).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    send(&h, "f-fallback", &plain, &[]).await;
    h.mock("primary").set_faults(Faults::default());
    let drain =
        json!({"action": {"kind": "drain", "route": "primary-route"}, "reason": "incident"});
    let created: Value = h
        .client
        .post(h.url("/admin/actions"))
        .bearer_auth("oncall")
        .json(&drain)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let action = created["id"].as_str().unwrap();
    send(&h, "f-drained", &plain, &[]).await;
    h.record("f-drained").await;

    let all = ["f-drained", "f-fallback", "f-intent", "f-prompt", "f-tools"];
    let window = format!("since={start}&until={}", unix_ms() + 1);
    for (query, want) in [
        ("tenant=default".to_owned(), &all[..]),
        ("alias=chat".to_owned(), &all[..]),
        (
            "route=secondary-route".to_owned(),
            &["f-drained", "f-fallback"][..],
        ),
        (
            "provider=secondary".to_owned(),
            &["f-drained", "f-fallback"][..],
        ),
        ("model_version=m".to_owned(), &all[..]),
        ("model_version=nope".to_owned(), &[][..]),
        ("prompt_version=support@v1".to_owned(), &["f-prompt"][..]),
        ("tools=true".to_owned(), &["f-tools"][..]),
        ("intent=search".to_owned(), &["f-intent"][..]),
        ("outcome=served".to_owned(), &all[..]),
        ("outcome=failed".to_owned(), &[][..]),
        (
            "degraded=fallback-route".to_owned(),
            &["f-drained", "f-fallback"][..],
        ),
        (format!("policy_version={version}"), &all[..]),
        ("policy_version=nope".to_owned(), &[][..]),
        (format!("action={action}"), &["f-drained"][..]),
        (window.clone(), &all[..]),
        (format!("until={start}"), &[][..]),
        (
            format!("{window}&provider=primary&tools=false"),
            &["f-intent", "f-prompt"][..],
        ),
    ] {
        assert_eq!(ids(&h, &query).await, want, "{query}");
    }
    for by in [
        "tenant",
        "alias",
        "route",
        "provider",
        "model_version",
        "prompt_version",
        "policy_version",
        "intent",
        "outcome",
        "tools",
        "degraded",
    ] {
        let body = h
            .admin_json(&format!("/admin/decisions?group_by={by}&{window}"), "adm")
            .await;
        let groups = body["groups"]
            .as_array()
            .unwrap_or_else(|| panic!("{by}: {body}"));
        let total: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
        assert_eq!(total, 5, "{by}: {body}");
    }
    let body = h
        .admin_json("/admin/decisions?group_by=degraded", "adm")
        .await;
    assert_eq!(body["groups"][0]["key"], "-", "{body}");
    assert_eq!(body["groups"][1]["key"], "fallback-route", "{body}");
    assert_eq!(body["groups"][1]["count"], 2, "{body}");
    h.stop().await;
}
