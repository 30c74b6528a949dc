//! Hot reload of a large policy under load (issue 18, target 4): 100 rules
//! × 50 routes × 20 tenants, reloaded ten times (each a new policy version)
//! while clients of every tenant keep sending requests; every request must
//! succeed. No timing assertions: the figures are in docs/benchmarks.md.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use signalbox_config::{OverlayVars, load_file};
use signalbox_gateway::{Gateway, GatewayOptions, ReloadSource};
use signalbox_mock::{MockOptions, MockProvider};
use signalbox_testkit::{any_port, chat_body, init_tls, temp_dir};

const ADMIN: &str = "reload-scale-admin";
const RULES: usize = 100;
const ROUTES: usize = 50;
const TENANTS: usize = 20;
const REGIONS: [&str; 4] = ["us", "eu", "uk", "jp"];

/// The configuration of policy version `v`: each version prefers other
/// routes, so each reload is a real change.
fn document(v: usize) -> String {
    let mut y = String::from(
        "regions: [us, eu, uk, jp]\nadmin:\n  token: { env: ADMIN_TOKEN }\nproviders:\n  \
         - { name: a, kind: openai-compatible, base-url: \"${A_URL}\" }\n  \
         - { name: b, kind: openai-compatible, base-url: \"${B_URL}\" }\nroutes:\n",
    );
    for i in 0..ROUTES {
        let _ = writeln!(
            y,
            "  - {{ id: r{i:02}, provider: {}, model: m-{}, region: {}, supports: {{ tools: {} }} }}",
            ["a", "b"][i % 2],
            i % 5,
            REGIONS[i % 4],
            i % 5 != 4,
        );
    }
    let all: Vec<String> = (0..ROUTES).map(|i| format!("r{i:02}")).collect();
    let _ = writeln!(
        y,
        "aliases:\n  - {{ name: chat, routes: [{}] }}",
        all.join(", ")
    );
    y.push_str("tenants:\n");
    for i in 0..TENANTS {
        let _ = writeln!(
            y,
            "  - {{ id: t{i:02}, api-keys: [{{ env: KEY_{i} }}], allowed-regions: [{}, {}] }}",
            REGIONS[i % 4],
            REGIONS[(i + 1) % 4],
        );
    }
    y.push_str(
        "intents:\n  default: general\n  rules:\n    - { name: tools-action, when: { tools: true }, intent: action }\npolicy:\n  rules:\n",
    );
    for k in 0..RULES - TENANTS {
        let _ = writeln!(
            y,
            "    - name: miss-{k:03}\n      when: {{ tenants: [t{:02}], headers: {{ x-cohort: c{k} }} }}\n      select: {{ regions: [{}] }}",
            k % TENANTS,
            REGIONS[k % 4],
        );
    }
    for i in 0..TENANTS {
        let _ = writeln!(
            y,
            "    - name: tenant-{i:02}\n      when: {{ tenants: [t{i:02}], intents: [action] }}\n      \
             select: {{ supports: [tools] }}\n      objectives: {{ prefer: [r{:02}] }}",
            (i + v) % ROUTES,
        );
    }
    y
}

async fn send(client: &reqwest::Client, base: &str, tenant: usize) -> u16 {
    let mut body = chat_body("chat", "look up order 1024");
    body["tools"] = serde_json::json!([{ "type": "function", "function": {
        "name": "lookup", "parameters": { "type": "object", "properties": {} } } }]);
    client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(format!("key-{tenant}"))
        .json(&body)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn a_large_policy_reloads_under_load_without_a_failed_request() {
    init_tls();
    let mock = |name: &str| MockOptions {
        name: name.into(),
        ..MockOptions::default()
    };
    let a = MockProvider::start(any_port(), mock("a")).await.unwrap();
    let b = MockProvider::start(any_port(), mock("b")).await.unwrap();
    let mut vars = vec![
        ("A_URL".to_owned(), a.base_url()),
        ("B_URL".to_owned(), b.base_url()),
        ("ADMIN_TOKEN".to_owned(), ADMIN.to_owned()),
    ];
    vars.extend((0..TENANTS).map(|i| (format!("KEY_{i}"), format!("key-{i}"))));
    let overlay = || OverlayVars::new(vars.clone());
    let dir = temp_dir("reload-scale");
    let path = dir.path().join("signalbox.yaml");
    std::fs::write(&path, document(0)).unwrap();
    let config = load_file(&path, &overlay()).unwrap();
    let options = GatewayOptions {
        reload: Some(ReloadSource {
            path: path.clone(),
            vars: Arc::new(overlay()),
            watch: false,
        }),
        decision_log_path: Some(dir.path().join("decisions.db")),
        breaker_store: None,
        action_store: None,
        quality_state: None,
    };
    let gateway = Gateway::with_options(config, options)
        .unwrap()
        .spawn(any_port())
        .await
        .unwrap();
    let base = gateway.base_url();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    assert_eq!(send(&client, &base, 3).await, 200);

    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (client, base) = (client.clone(), base.clone());
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            let mut n = worker;
            while !stop.load(Ordering::Relaxed) {
                let counter = if send(&client, &base, n % TENANTS).await == 200 {
                    &served
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
                n += 4;
            }
        }));
    }
    for v in 1..=10 {
        std::fs::write(&path, document(v)).unwrap();
        let resp = client
            .post(format!("{base}/admin/reload"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "reload {v}: {body}");
        assert_eq!(body["status"], "reloaded", "reload {v}: {body}");
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(served.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request may fail while the policy reloads"
    );
}
