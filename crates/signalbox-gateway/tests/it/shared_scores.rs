//! Quality scores kept beyond one replica's memory: a restarted gateway
//! reads back what its decision log kept, and two replicas (in process,
//! and through a real `redis-server`: ignored without it, `.ci/run` runs
//! it) read one history whose counts add up (every answer weighed once,
//! each row naming its replicas). With Redis lost, a replica answers with
//! its own rows and counts the fallback.

use serde_json::Value;
use signalbox_gateway::{Gateway, GatewayHandle, GatewayOptions, QualityState};
use signalbox_testkit::redis::RedisServer;
use signalbox_testkit::{Harness, any_port, config, temp_db};

use crate::shared_quality::{QUALITY, ROUTES, Replicas, Sharing, replicas, suite_path, within};

const PRIMARY: &str = "/admin/quality/scores?route=primary-route&scorer=tool-call";

async fn scores(h: &Harness, on: &GatewayHandle) -> Value {
    h.client
        .get(format!("{}{PRIMARY}", on.base_url()))
        .bearer_auth("admin-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn rows(v: &Value) -> Vec<Value> {
    v["scores"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_restarted_gateway_keeps_the_scores_its_decision_log_kept() {
    let h = Harness::start(
        ROUTES,
        &["primary", "secondary"],
        &[("ADMIN_TOKEN", "admin-secret".into())],
    )
    .await;
    let vars = vec![
        ("PRIMARY_URL".to_owned(), h.mock("primary").base_url()),
        ("SECONDARY_URL".to_owned(), h.mock("secondary").base_url()),
        ("ADMIN_TOKEN".to_owned(), "admin-secret".to_owned()),
        ("SUITE_PATH".to_owned(), suite_path()),
    ];
    let log = temp_db();
    let start = |extra: &str| {
        let options = GatewayOptions {
            decision_log_path: Some(log.clone()),
            ..GatewayOptions::default()
        };
        Gateway::with_options(config(&format!("{ROUTES}{extra}"), vars.clone()), options).unwrap()
    };
    let first = start(QUALITY).spawn(any_port()).await.unwrap();
    // Two runs: the first one's rows, sent to the file on a task of their
    // own a run earlier, are surely written.
    let runs = |v: &Value| {
        rows(v)
            .iter()
            .filter_map(|r| r["runs"].as_u64())
            .sum::<u64>()
    };
    let scored = within(|| async { runs(&scores(&h, &first).await) >= 2 }).await;
    assert!(scored, "not two runs scored: {}", scores(&h, &first).await);
    let before = rows(&scores(&h, &first).await);
    let replica = before[0]["replicas"][0].clone();
    first.shutdown().await;
    // Restarted without suites: nothing runs, the history is read back.
    let second = start("").spawn(any_port()).await.unwrap();
    let after = scores(&h, &second).await;
    let kept = rows(&after);
    assert!(!kept.is_empty(), "the restart lost the scores: {after}");
    assert_eq!(kept[0]["window_start"], before[0]["window_start"]);
    assert_eq!(kept[0]["model_version"], before[0]["model_version"]);
    assert_eq!(kept[0]["replicas"], serde_json::json!([replica]), "{after}");
    assert!(runs(&after) >= 1, "{after}");
    assert_eq!(
        kept[0]["scored"], kept[0]["runs"],
        "one case a run: {after}"
    );
    second.shutdown().await;
    h.stop().await;
}

/// Both replicas run the suite: their rows merge into one history on
/// either replica, counts added (one case per run: scored = runs), both
/// replicas named.
async fn two_replicas_keep_one_score_history(sharing: Sharing) -> Replicas {
    let r = replicas(QUALITY, QUALITY, sharing).await;
    let both = |v: &Value| {
        rows(v)
            .iter()
            .any(|row| row["replicas"].as_array().is_some_and(|x| x.len() == 2))
    };
    for on in [&r.a, &r.b] {
        let merged = within(|| async { both(&scores(&r.h, on).await) }).await;
        assert!(
            merged,
            "one replica's runs only: {}",
            scores(&r.h, on).await
        );
        let v = scores(&r.h, on).await;
        assert_eq!(v["source"], "shared");
        for row in rows(&v) {
            assert_eq!(row["scored"], row["runs"], "counts add up: {v}");
            assert_eq!(row["pass_rate"], 1.0, "{v}");
        }
    }
    r
}

#[tokio::test]
async fn two_replicas_keep_one_score_history_in_process() {
    let r =
        two_replicas_keep_one_score_history(Sharing::InProcess(QualityState::in_memory())).await;
    r.stop().await;
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn two_replicas_keep_one_score_history_through_redis_and_fall_back_to_their_own() {
    let mut r = two_replicas_keep_one_score_history(Sharing::Redis(RedisServer::start())).await;
    let Sharing::Redis(server) = &mut r.sharing else {
        unreachable!()
    };
    server.stop();
    let v = scores(&r.h, &r.a).await;
    assert_eq!(v["source"], "local", "{v}");
    let own = rows(&v);
    assert!(!own.is_empty(), "{v}");
    assert!(
        own.iter()
            .all(|row| row["replicas"].as_array().is_some_and(|x| x.len() == 1)),
        "this replica's own runs: {v}"
    );
    let fallbacks = r#"signalbox_state_fallbacks_total{store="scores"}"#;
    assert!(r.metrics(&r.a).await.contains(fallbacks), "not counted");
    r.stop().await;
}
