//! The Redis stores against a real `redis-server` (started per test on a
//! free port; the tests fail when it is not installed).

#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use signalbox_state::{
    Begin, BreakerStore, IdempotencyStore, LimitStore, Limits, Period, SharedBreaker, SpendStore,
    StoredResponse, check_budget, unix_ms,
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
async fn idempotency_executes_then_replays_byte_identical_across_stores() {
    let server = RedisServer::start();
    let a = idem(conn(&server).await);
    let b = idem(conn(&server).await);
    assert!(matches!(a.begin("t\0k", 7).await, Ok(Begin::Execute)));
    let body: Vec<u8> = (0..=255u8).chain(b"\r\n\0{}".iter().copied()).collect();
    a.complete("t\0k", resp(&body)).await;
    let Ok(Begin::Replay(r)) = b.begin("t\0k", 7).await else {
        panic!("no replay")
    };
    assert_eq!(r, resp(&body));
    assert!(matches!(b.begin("t\0k", 8).await, Ok(Begin::Conflict)));
    assert!(
        matches!(a.begin("t\0other", 8).await, Ok(Begin::Execute)),
        "keys are independent"
    );
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn conflict_while_in_flight_and_oversized_responses_are_not_kept() {
    let server = RedisServer::start();
    let s = RedisIdempotency::new(
        conn(&server).await,
        Duration::from_secs(60),
        Duration::from_secs(5),
        40,
    );
    assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
    assert!(matches!(s.begin("k", 2).await, Ok(Begin::Conflict)));
    s.complete("k", resp(&[b'x'; 100])).await;
    assert!(
        matches!(s.begin("k", 1).await, Ok(Begin::Execute)),
        "too large to keep"
    );
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn concurrent_duplicates_wait_then_replay() {
    let server = RedisServer::start();
    let a = idem(conn(&server).await);
    let b = Arc::new(idem(conn(&server).await));
    assert!(matches!(a.begin("k", 1).await, Ok(Begin::Execute)));
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let b = Arc::clone(&b);
        waiters.push(tokio::spawn(async move {
            loop {
                match b.begin("k", 1).await.unwrap() {
                    Begin::InFlight(w) => w.await,
                    Begin::Replay(r) => return r,
                    other => panic!("unexpected {other:?}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()), "duplicates wait");
    a.complete("k", resp(b"done")).await;
    for w in waiters {
        let r = tokio::time::timeout(Duration::from_secs(2), w)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.body, Bytes::from_static(b"done"));
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
async fn rpm_is_shared_and_says_when() {
    let server = RedisServer::start();
    let a = RedisLimits::new(conn(&server).await, Duration::from_secs(60));
    let b = RedisLimits::new(conn(&server).await, Duration::from_secs(60));
    let l = Limits {
        requests_per_minute: Some(60),
        ..Limits::default()
    };
    for i in 0..60 {
        let s = if i % 2 == 0 { &a } else { &b };
        assert!(s.acquire("t", l, 0).await.unwrap().is_ok(), "request {i}");
    }
    let e = a.acquire("t", l, 0).await.unwrap().unwrap_err();
    assert_eq!(e.limit, "requests-per-minute");
    assert_eq!(e.value, 60);
    assert!(
        e.retry_after > Duration::from_millis(500) && e.retry_after <= Duration::from_secs(1),
        "{:?}",
        e.retry_after
    );
    assert!(
        b.acquire("other", l, 0).await.unwrap().is_ok(),
        "per tenant"
    );
    tokio::time::sleep(e.retry_after + Duration::from_millis(50)).await;
    assert!(b.acquire("t", l, 0).await.unwrap().is_ok(), "refilled");
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn tokens_per_minute_refuses_and_returns_the_request_unit() {
    let server = RedisServer::start();
    let s = RedisLimits::new(conn(&server).await, Duration::from_secs(60));
    let l = Limits {
        requests_per_minute: Some(2),
        tokens_per_minute: Some(1000),
        ..Limits::default()
    };
    assert!(s.acquire("t", l, 900).await.unwrap().is_ok());
    let e = s.acquire("t", l, 900).await.unwrap().unwrap_err();
    assert_eq!(e.limit, "tokens-per-minute");
    assert_eq!(e.value, 1000);
    // 800 tokens missing at 1000/min: about 48 s.
    assert!(
        (e.retry_after.as_secs_f64() - 48.0).abs() < 1.0,
        "{:?}",
        e.retry_after
    );
    assert!(
        s.acquire("t", l, 50).await.unwrap().is_ok(),
        "request unit returned"
    );
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn concurrency_is_shared_and_released_on_drop() {
    let server = RedisServer::start();
    let a = RedisLimits::new(conn(&server).await, Duration::from_secs(60));
    let b = RedisLimits::new(conn(&server).await, Duration::from_secs(60));
    let l = Limits {
        concurrency: Some(2),
        ..Limits::default()
    };
    let p1 = a.acquire("t", l, 1).await.unwrap().unwrap();
    let _p2 = b.acquire("t", l, 1).await.unwrap().unwrap();
    let e = a.acquire("t", l, 1).await.unwrap().unwrap_err();
    assert_eq!(e.limit, "concurrency");
    assert_eq!(e.retry_after, Duration::from_secs(1));
    drop(p1);
    let mut admitted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Ok(Ok(p)) = b.acquire("t", l, 1).await {
            admitted = true;
            drop(p);
            break;
        }
    }
    assert!(admitted, "the dropped permit released its slot");
}

#[tokio::test]
#[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
async fn spend_is_shared_per_tenant_and_month_and_expires_after_it() {
    let server = RedisServer::start();
    let a = RedisSpend::new(conn(&server).await);
    let b = RedisSpend::new(conn(&server).await);
    let now = unix_ms() / 1000;
    let month = Period::containing(now);
    assert_eq!(a.add("t", month, 600_000).await.unwrap(), 600_000);
    assert_eq!(b.add("t", month, 400_000).await.unwrap(), 1_000_000);
    assert_eq!(a.spent("t", month).await.unwrap(), 1_000_000);
    assert_eq!(b.spent("other", month).await.unwrap(), 0, "per tenant");
    assert_eq!(b.spent("t", month.next()).await.unwrap(), 0, "per month");
    let e = check_budget(&b, "t", 1.0, now).await.unwrap().unwrap_err();
    assert_eq!(e.resets_at_unix, month.reset_unix());
    assert!(check_budget(&b, "t", 1.5, now).await.unwrap().is_ok());
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
async fn breakers_spread_between_replicas() {
    let server = RedisServer::start();
    let refresh = Duration::from_millis(100);
    let one = RedisBreakers::new(conn(&server).await, refresh).unwrap();
    let two = RedisBreakers::new(conn(&server).await, refresh).unwrap();
    one.publish_open(
        "primary",
        SharedBreaker {
            replica: 1,
            open_until_ms: unix_ms() + 60_000,
            reason: "5 failures in a row".into(),
        },
    );
    assert!(
        one.open_elsewhere("primary", 1).is_none(),
        "own state is local"
    );
    let seen = wait_for(|| two.open_elsewhere("primary", 2).is_some()).await;
    assert!(seen, "the other replica sees the open circuit");
    assert_eq!(
        two.open_elsewhere("primary", 2).map(|b| b.reason),
        Some("5 failures in a row".into())
    );
    two.publish_closed("primary");
    assert!(two.open_elsewhere("primary", 2).is_none());
    assert!(
        wait_for(|| one.open_elsewhere("primary", 3).is_none()).await,
        "a close clears it everywhere"
    );
    one.publish_open(
        "primary",
        SharedBreaker {
            replica: 1,
            open_until_ms: unix_ms() + 400,
            reason: "short".into(),
        },
    );
    assert!(wait_for(|| two.open_elsewhere("primary", 2).is_some()).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(two.open_elsewhere("primary", 2).is_none(), "expired");
}

async fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..50 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
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
