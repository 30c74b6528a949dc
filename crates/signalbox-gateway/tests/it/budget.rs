//! `tenants[].monthly-budget-usd` is enforced: spend is priced from each
//! completed call's usage (JSON and streams), and once it reaches the
//! budget the tenant gets 429 `budget_exceeded` with `retry-after` until
//! the next calendar month (UTC), without a provider call; reloads keep the
//! spend.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use signalbox_config::{OverlayVars, load_file};
use signalbox_gateway::{Gateway, GatewayOptions, ReloadSource};
use signalbox_mock::{MockOptions, MockProvider};
use signalbox_testkit::{TempDir, any_port, chat_body, init_tls, stream_body, temp_dir};

/// At $0.01 a token, one small mock answer (a few tokens) costs several
/// cents: `capped` (budget $0.50) is served a few times, then refused;
/// `free` has no budget.
fn config(plan: &str) -> String {
    format!(
        r#"
providers:
  - {{ name: up, kind: openai-compatible, base-url: "${{UP_URL}}" }}
routes:
  - {{ id: up, provider: up, model: m, region: us, price: {{ input-per-1m: 10000, output-per-1m: 10000 }} }}
aliases:
  - {{ name: chat, routes: [up] }}
tenants:
  - {{ id: capped, plan: {plan}, api-keys: [{{ env: CAPPED_KEY }}], monthly-budget-usd: 0.5 }}
  - {{ id: free, api-keys: [{{ env: FREE_KEY }}] }}
"#
    )
}

struct Setup {
    path: std::path::PathBuf,
    gateway: signalbox_gateway::GatewayHandle,
    mock: signalbox_mock::MockHandle,
    client: reqwest::Client,
    /// The configuration and the decision log; last, so the gateway stops first.
    _dir: TempDir,
}

async fn setup() -> Setup {
    init_tls();
    let opts = MockOptions {
        name: "up".into(),
        ..MockOptions::default()
    };
    let mock = MockProvider::start(any_port(), opts).await.unwrap();
    let vars = OverlayVars::new([
        ("UP_URL", mock.base_url()),
        ("CAPPED_KEY", "capped-key".to_string()),
        ("FREE_KEY", "free-key".to_string()),
    ]);
    let dir = temp_dir("budget");
    let path = dir.path().join("signalbox.yaml");
    std::fs::write(&path, config("a")).unwrap();
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
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Setup {
        path,
        gateway,
        mock,
        client,
        _dir: dir,
    }
}

impl Setup {
    async fn chat(&self, key: &str, body: &Value, id: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/chat/completions", self.gateway.base_url()))
            .bearer_auth(key)
            .header("x-request-id", id)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Sends until the first 429 (at most `limit` requests); returns how
    /// many were served and the refusal.
    async fn spend_until_refused(&self, body: &Value, limit: usize) -> (usize, reqwest::Response) {
        for served in 0..limit {
            let resp = self
                .chat("capped-key", body, &format!("spend-{served}"))
                .await;
            if resp.status() == 429 {
                return (served, resp);
            }
            assert_eq!(resp.status(), 200);
            // Read the whole body: a stream's spend is added when it ends.
            let _ = resp.bytes().await.unwrap();
        }
        panic!("never refused after {limit} requests");
    }
}

fn seconds_to_next_month() -> std::ops::RangeInclusive<u64> {
    let now = signalbox_core::clock::unix_secs();
    let next = signalbox_state::Period::containing(now).reset_unix();
    // The refusal was computed a moment before `now`.
    next.saturating_sub(now)..=next.saturating_sub(now) + 5
}

#[tokio::test]
async fn a_spent_budget_refuses_until_next_month_and_survives_a_reload() {
    let s = setup().await;
    let (served, resp) = s.spend_until_refused(&chat_body("chat", "hi"), 20).await;
    // Refused exactly once the recorded costs reach the budget.
    let log = s.gateway.gateway().decision_log().unwrap().clone();
    log.flush().await;
    let costs: Vec<f64> = (0..served)
        .map(|i| {
            let id = format!("spend-{i}");
            log.reader()
                .unwrap()
                .find(&id, None)
                .unwrap()
                .into_iter()
                .next()
                .unwrap()
                .cost_usd
                .unwrap()
        })
        .collect();
    let total: f64 = costs.iter().sum();
    assert!(
        total >= 0.5 && total - costs[served - 1] < 0.5,
        "refused after {served} calls costing {costs:?}"
    );
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        seconds_to_next_month().contains(&retry_after),
        "retry-after {retry_after} is not the start of next month"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "budget_exceeded");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("resets at"), "{message}");
    assert!(
        v["signalbox"]["budget_resets_at"]
            .as_str()
            .unwrap()
            .ends_with("-01T00:00:00Z"),
        "{v}"
    );
    assert_eq!(
        s.mock.stats().requests,
        served as u64,
        "the refusal called no provider"
    );
    // Other tenants are not affected.
    let resp = s.chat("free-key", &chat_body("chat", "hi"), "free-1").await;
    assert_eq!(resp.status(), 200);

    // A reload (another plan) keeps the month's spend.
    std::fs::write(&s.path, config("b")).unwrap();
    s.gateway.gateway().reload().await.unwrap();
    let resp = s
        .chat("capped-key", &chat_body("chat", "hi"), "after-reload")
        .await;
    assert_eq!(resp.status(), 429, "the reload reset the budget");

    let (_, metrics) = get(&s, "/metrics").await;
    assert!(
        metrics.contains("signalbox_tenant_budget_exceeded_total{tenant=\"capped\"} 2"),
        "{metrics}"
    );
    let gauge: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("signalbox_tenant_spend_usd{tenant=\"capped\"} "))
        .unwrap_or_else(|| panic!("no spend gauge: {metrics}"))
        .parse()
        .unwrap();
    assert!(
        (gauge - total).abs() < 1e-4,
        "gauge {gauge}, records {total}"
    );

    log.flush().await;
    let rec = log
        .reader()
        .unwrap()
        .find("after-reload", None)
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    assert_eq!(rec.outcome, "refused");
    assert_eq!(rec.status, 429);
    assert!(rec.error.unwrap().contains("monthly budget"));
}

#[tokio::test]
async fn streams_are_charged_when_they_end() {
    let s = setup().await;
    // Without `include_usage` the spend is the gateway's estimate.
    let (served, _) = s.spend_until_refused(&stream_body("chat", "hi"), 20).await;
    assert!(served >= 1, "{served}");
    // With it, the upstream's usage.
    let s = setup().await;
    let mut body = stream_body("chat", "hi");
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let (served, _) = s.spend_until_refused(&body, 20).await;
    assert!(served >= 1, "{served}");
}

async fn get(s: &Setup, path: &str) -> (u16, String) {
    let resp = s
        .client
        .get(format!("{}{path}", s.gateway.base_url()))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}
