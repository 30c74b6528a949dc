//! Redis-only behaviour against a real `redis-server` (started per test on
//! a free port; the tests fail when it is not installed): expiry, outages,
//! claims held by another connection. What every backend must do is in
//! `contract.rs` (the `signalbox_state::contract` bodies).

#![expect(clippy::unwrap_used, reason = "tests")]

mod contract;

use std::time::Duration;

use bytes::Bytes;
use signalbox_state::{
    Begin, BreakerStore, IdempotencyStore, LimitStore, Limits, Period, SharedBreaker, SpendStore,
    StoredResponse, unix_ms,
};
use signalbox_state_redis::{
    RedisBreakers, RedisConn, RedisIdempotency, RedisLimits, RedisSpend, RedisTimeouts,
};
use signalbox_testkit::redis::RedisServer;

async fn conn(server: &RedisServer) -> RedisConn {
    RedisConn::connect(&server.url(), "test:", RedisTimeouts::default())
        .await
        .unwrap()
}

fn idem(c: RedisConn) -> RedisIdempotency {
    RedisIdempotency::new(c, Duration::from_secs(60), Duration::from_secs(5), 1024)
}

fn resp(body: &[u8]) -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-signalbox-route".into(), "primary".into()),
        ],
        body: Bytes::copy_from_slice(body),
    }
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn abandon_lets_the_next_execute_and_wakes_waiters() {
    let server = RedisServer::start();
    let a = idem(conn(&server).await);
    let b = idem(conn(&server).await);
    assert!(matches!(a.begin("k", 1).await, Ok(Begin::Execute)));
    let Ok(Begin::InFlight(w)) = b.begin("k", 1).await else {
        panic!("no wait")
    };
    // Another store cannot abandon a claim it does not hold.
    b.abandon("k").await;
    assert!(matches!(b.begin("k", 1).await, Ok(Begin::InFlight(_))));
    a.abandon("k").await;
    tokio::time::timeout(Duration::from_secs(2), w)
        .await
        .unwrap();
    assert!(matches!(b.begin("k", 1).await, Ok(Begin::Execute)));
    // The old owner's late completion does not overwrite the new claim.
    a.complete("k", resp(b"stale")).await;
    assert!(matches!(a.begin("k", 1).await, Ok(Begin::InFlight(_))));
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn an_expired_claim_can_execute_again() {
    let server = RedisServer::start();
    let s = RedisIdempotency::new(
        conn(&server).await,
        Duration::from_secs(60),
        Duration::from_millis(300),
        1024,
    );
    assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
    let Ok(Begin::InFlight(w)) = s.begin("k", 1).await else {
        panic!("no wait")
    };
    tokio::time::timeout(Duration::from_secs(2), w)
        .await
        .unwrap();
    assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn a_spend_counter_expires_a_day_after_its_month() {
    let server = RedisServer::start();
    let a = RedisSpend::new(conn(&server).await);
    let month = Period::containing(unix_ms() / 1000);
    assert_eq!(a.add("t", month, 600_000).await.unwrap(), 600_000);
    // The counter expires a day after its month ends.
    let c = conn(&server).await;
    let mut raw = redis::Client::open(server.url()).unwrap();
    let at: i64 = redis::cmd("EXPIRETIME")
        .arg(format!("{}spend:t:{}", c.prefix(), month.label()))
        .query(&mut raw)
        .unwrap();
    assert_eq!(u64::try_from(at).unwrap(), month.reset_unix() + 86_400);
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn with_redis_gone_nothing_panics_or_hangs() {
    let mut server = RedisServer::start();
    let c = conn(&server).await;
    let s = idem(c.clone());
    let limits = RedisLimits::new(c.clone(), Duration::from_secs(60));
    let breakers = RedisBreakers::new(c, Duration::from_millis(50)).unwrap();
    breakers.publish_open(
        "r",
        SharedBreaker {
            replica: 1,
            open_until_ms: unix_ms() + 60_000,
            reason: "down".into(),
        },
    );
    assert!(breakers.open_elsewhere("r", 2).is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop();
    let l = Limits {
        concurrency: Some(1),
        requests_per_minute: Some(1),
        tokens_per_minute: Some(1),
    };
    let bounded = Duration::from_secs(5);
    let begin = tokio::time::timeout(bounded, s.begin("k", 1))
        .await
        .unwrap();
    assert!(begin.is_err(), "begin reports the outage: {begin:?}");
    for _ in 0..3 {
        let r = tokio::time::timeout(bounded, limits.acquire("t", l, 1000))
            .await
            .unwrap();
        assert!(matches!(r, Ok(Ok(_))), "limits fail open: {r:?}");
    }
    tokio::time::timeout(bounded, s.complete("k", resp(b"x")))
        .await
        .unwrap();
    tokio::time::timeout(bounded, s.abandon("k")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        breakers.open_elsewhere("r", 2).is_some(),
        "last local view kept"
    );
    breakers.publish_closed("r");
    assert!(breakers.open_elsewhere("r", 2).is_none());
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn connecting_to_nothing_is_a_clear_error() {
    let server = RedisServer::start();
    let url = server.url();
    drop(server);
    let t = RedisTimeouts {
        connect: Duration::from_millis(500),
        operation: Duration::from_millis(500),
    };
    let e = RedisConn::connect(&url, "x:", t).await.unwrap_err();
    assert!(e.to_string().contains("redis"), "{e}");
    let e = RedisConn::connect_blocking(&url, "x:", t).unwrap_err();
    assert!(e.to_string().contains("redis"), "{e}");
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn an_action_with_a_ttl_is_dropped_by_redis_itself() {
    use signalbox_core::operator::{Action, Actor, OperatorAction, Role};
    use signalbox_state::ActionStore;
    let server = RedisServer::start();
    let c = conn(&server).await;
    let store =
        signalbox_state_redis::RedisActions::new(c.clone(), Duration::from_secs(60)).unwrap();
    let now = unix_ms();
    let action = OperatorAction {
        id: "act-ttl".into(),
        action: Action::Drain { route: "r".into() },
        who: Actor {
            name: "oncall".into(),
            role: Role::Operator,
        },
        created_ms: now,
        expires_ms: Some(now + 60_000),
        reason: "incident".into(),
    };
    store.create(action).await.unwrap();
    let mut raw = redis::Client::open(server.url()).unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}action:act-ttl", c.prefix()))
        .query(&mut raw)
        .unwrap();
    assert!(pttl > 55_000 && pttl <= 60_000, "{pttl}");
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn with_redis_gone_the_quality_loop_stores_fall_back_and_count() {
    use signalbox_state::{
        CanaryStore, QualityMark, QualityStore, RolloutPhase, RolloutStep, ShadowBudgetStore,
        StepKind,
    };
    use signalbox_state_redis::{RedisCanaries, RedisQuality, RedisShadowBudgets};
    let mut server = RedisServer::start();
    let c = conn(&server).await;
    let quality = RedisQuality::new(c.clone(), Duration::from_millis(50)).unwrap();
    let canaries = RedisCanaries::new(c.clone());
    let budgets = RedisShadowBudgets::new(c);
    let mark = QualityMark {
        replica: 1,
        disabled: Some("tool-call 0.00 < 1.00".into()),
        warning: None,
        expires_ms: unix_ms() + 60_000,
        intent: None,
    };
    quality.publish("r", mark);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(quality.failures(), 0);
    server.stop();
    let bounded = Duration::from_secs(5);
    let step = RolloutStep {
        generation: 1,
        phase: RolloutPhase::Stepping(0),
        kind: StepKind::Started,
        from_bp: 0,
        to_bp: 100,
        evidence: String::new(),
        replica: 1,
        started_ms: unix_ms(),
        at_ms: unix_ms(),
    };
    let r = tokio::time::timeout(bounded, canaries.advance("c", 0, step))
        .await
        .unwrap();
    assert!(r.is_err(), "the outage is reported: {r:?}");
    let r = tokio::time::timeout(bounded, budgets.take("rule", 1, 10, None))
        .await
        .unwrap();
    assert!(r.is_err(), "the outage is reported: {r:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(quality.failures() > 0, "failed refreshes are counted");
    assert!(
        quality.snapshot().disabled_elsewhere("r", 2).is_some(),
        "last local view kept"
    );
}
