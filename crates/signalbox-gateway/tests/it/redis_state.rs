//! `state: { backend: redis }`: two gateways sharing one `redis-server`
//! (started by the test; it fails when redis-server is not installed).

use signalbox_gateway::{BuildError, Gateway, GatewayOptions};
use signalbox_testkit::redis::RedisServer;
use signalbox_testkit::{Harness, any_port, chat_body, config, temp_db};

use crate::{TWO_ROUTES, header};

const STATE: &str = "
state:
  backend: redis
  redis-url: { env: REDIS_URL }
  key-prefix: 'it:'
";

fn vars(h: &Harness, redis_url: String) -> Vec<(String, String)> {
    vec![
        ("PRIMARY_URL".into(), h.mock("primary").base_url()),
        ("SECONDARY_URL".into(), h.mock("secondary").base_url()),
        ("PRIMARY_KEY".into(), "sk-test-primary".into()),
        ("REDIS_URL".into(), redis_url),
    ]
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn an_idempotent_request_replays_across_gateways_sharing_redis() {
    let redis = RedisServer::start();
    let yaml = format!("{TWO_ROUTES}{STATE}");
    // Gateway A (the harness) and gateway B, both in front of the same mocks.
    let a = Harness::start(
        &yaml,
        &["primary", "secondary"],
        &[
            ("PRIMARY_KEY", "sk-test-primary".into()),
            ("REDIS_URL", redis.url()),
        ],
    )
    .await;
    let log = temp_db();
    let options = GatewayOptions {
        decision_log_path: Some(log.to_path_buf()),
        ..GatewayOptions::default()
    };
    let b = Gateway::with_options(config(&yaml, vars(&a, redis.url())), options)
        .unwrap()
        .spawn(any_port())
        .await
        .unwrap();

    let body = chat_body("chat", "charge the card once");
    let first = a.chat_with(&body, &[("idempotency-key", "order-7")]).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-signalbox-idempotent-replay"), "");
    let first_body = first.bytes().await.unwrap();

    let second = a
        .client
        .post(format!("{}/v1/chat/completions", b.base_url()))
        .header("idempotency-key", "order-7")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-signalbox-idempotent-replay"), "true");
    assert_eq!(second.bytes().await.unwrap(), first_body, "byte-identical");
    assert_eq!(a.mock("primary").stats().requests, 1, "one upstream call");

    // The same key with another body is a conflict on B too.
    let other = a
        .client
        .post(format!("{}/v1/chat/completions", b.base_url()))
        .header("idempotency-key", "order-7")
        .json(&chat_body("chat", "something else"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    b.shutdown().await;
    a.stop().await;
}

#[tokio::test]
async fn an_unreachable_redis_at_startup_is_a_clear_build_error() {
    // Needs no redis-server (so it runs with the README's command): the
    // URL names a port nothing listens on.
    let closed = signalbox_testkit::closed_port_url().await;
    let url = closed
        .trim_end_matches("/v1")
        .replacen("http://", "redis://", 1);
    let h = Harness::start(
        TWO_ROUTES,
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "sk".into())],
    )
    .await;
    let v = vars(&h, url);
    let yaml = format!("{TWO_ROUTES}{STATE}");
    let err = Gateway::new(config(&yaml, v)).unwrap_err();
    assert!(matches!(err, BuildError::State(_)), "{err}");
    assert!(err.to_string().starts_with("state backend: redis"), "{err}");
    h.stop().await;
}

/// One priced route; the anonymous tenant has a $0.50 monthly budget.
const BUDGET: &str = r#"
providers:
  - { name: up, kind: openai-compatible, base-url: "${UP_URL}" }
routes:
  - { id: up, provider: up, model: m, region: us, price: { input-per-1m: 10000, output-per-1m: 10000 } }
aliases:
  - { name: chat, routes: [up] }
tenants:
  - { id: shared, monthly-budget-usd: 0.5 }
anonymous-tenant: shared
"#;

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn a_budget_spent_through_one_gateway_is_spent_on_the_other() {
    let redis = RedisServer::start();
    let yaml = format!("{BUDGET}{STATE}");
    let a = Harness::start(&yaml, &["up"], &[("REDIS_URL", redis.url())]).await;
    let vars = vec![
        ("UP_URL".to_string(), a.mock("up").base_url()),
        ("REDIS_URL".to_string(), redis.url()),
    ];
    let log = temp_db();
    let options = GatewayOptions {
        decision_log_path: Some(log.to_path_buf()),
        ..GatewayOptions::default()
    };
    let b = Gateway::with_options(config(&yaml, vars), options)
        .unwrap()
        .spawn(any_port())
        .await
        .unwrap();
    let via_b = || async {
        a.client
            .post(format!("{}/v1/chat/completions", b.base_url()))
            .json(&chat_body("chat", "hi"))
            .send()
            .await
            .unwrap()
            .status()
    };
    // Spend it all through A (each call is a few cents).
    let mut served = 0;
    while a.chat(&chat_body("chat", "hi")).await.status() == 200 {
        served += 1;
        assert!(served < 30, "A never refused");
    }
    // A refused because Redis holds the budget's worth: B refuses too, at once.
    let before = a.mock("up").stats().requests;
    assert_eq!(
        via_b().await,
        429,
        "B does not see the spend made through A"
    );
    assert_eq!(a.mock("up").stats().requests, before);
    b.shutdown().await;
    a.stop().await;
}
