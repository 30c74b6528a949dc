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
    let options = GatewayOptions {
        decision_log_path: Some(temp_db()),
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
