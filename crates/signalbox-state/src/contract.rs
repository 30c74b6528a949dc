//! Owns the behaviour every shared-state backend must have, written once:
//! each `pub async fn` here is one contract, a test body that takes a
//! [`Backend`] and asserts through the store traits only. The in-process
//! stores run every contract in this crate's unit tests; the Redis stores
//! run the same bodies against a real `redis-server`
//! (`signalbox-state-redis/tests/contract.rs`). A behaviour one backend has
//! and the other lacks shows up as a failing contract, not as a difference
//! users find in production.
//!
//! "Two handles" means what two replicas would hold: the same in-process
//! store twice, or two connections to one Redis.
//!
//! Compiled for this crate's tests and, for other crates' tests, with the
//! `contract` feature.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test bodies: a failed expectation is the test's failure"
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use signalbox_core::operator::{Action, Actor, OperatorAction, Role};

use crate::{
    ActionStore, Begin, BoxFuture, BreakerStore, CanaryStore, IdempotencyStore, LimitStore, Limits,
    Period, QualityStore, ScoreStore, ShadowBudgetStore, SharedBreaker, SpendStore, StoredResponse,
    check_budget, unix_ms,
};

mod rollouts;
mod scores;

pub use rollouts::{
    canary_steps_are_taken_once, quality_marks_for_an_intent_hold_for_that_intent_only,
    quality_marks_spread_per_replica_and_expire, shadow_budgets_are_shared_per_rule_and_hour,
};
pub use scores::{canary_counts_add_up_per_step, scores_add_up_across_replicas};

/// Builds stores of one backend for the contracts.
pub trait Backend: Sync {
    /// Two handles on one idempotency store keeping responses of at most
    /// `max_response_bytes`.
    fn idempotency(
        &self,
        max_response_bytes: usize,
    ) -> BoxFuture<'_, [Arc<dyn IdempotencyStore>; 2]>;
    /// Two handles on one limit store.
    fn limits(&self) -> BoxFuture<'_, [Arc<dyn LimitStore>; 2]>;
    /// Two handles on one spend store.
    fn spend(&self) -> BoxFuture<'_, [Arc<dyn SpendStore>; 2]>;
    /// Two replicas' views of one breaker store.
    fn breakers(&self) -> BoxFuture<'_, [Arc<dyn BreakerStore>; 2]>;
    /// Two replicas' views of one operator-action store.
    fn actions(&self) -> BoxFuture<'_, [Arc<dyn ActionStore>; 2]>;
    /// Two replicas' views of one quality-mark store.
    fn quality(&self) -> BoxFuture<'_, [Arc<dyn QualityStore>; 2]>;
    /// Two handles on one canary-rollout store.
    fn canaries(&self) -> BoxFuture<'_, [Arc<dyn CanaryStore>; 2]>;
    /// Two handles on one shadow-budget store.
    fn shadow_budgets(&self) -> BoxFuture<'_, [Arc<dyn ShadowBudgetStore>; 2]>;
    /// Two replicas' views of one quality-score store.
    fn scores(&self) -> BoxFuture<'_, [Arc<dyn ScoreStore>; 2]>;
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

/// Polls `f` (up to ~1 s): a networked store's replicas see each other's
/// writes after a refresh, not at once.
pub(crate) async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..50 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A claimed key executes once; its answer replays byte-identical through
/// the other handle; another body under the key conflicts; keys are
/// independent.
pub async fn idempotency_executes_then_replays(b: &impl Backend) {
    let [x, y] = b.idempotency(1024).await;
    assert!(matches!(x.begin("t\0k", 7).await, Ok(Begin::Execute)));
    let body: Vec<u8> = (0..=255u8).chain(b"\r\n\0{}".iter().copied()).collect();
    x.complete("t\0k", resp(&body)).await;
    let Ok(Begin::Replay(r)) = y.begin("t\0k", 7).await else {
        panic!("no replay")
    };
    assert_eq!(r, resp(&body));
    assert!(matches!(y.begin("t\0k", 8).await, Ok(Begin::Conflict)));
    assert!(
        matches!(x.begin("t\0other", 8).await, Ok(Begin::Execute)),
        "keys are independent"
    );
}

/// A different body while the first runs conflicts; a response above the
/// size limit is not kept (the next request executes).
pub async fn idempotency_conflicts_and_drops_oversized(b: &impl Backend) {
    let [s, _] = b.idempotency(40).await;
    assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
    assert!(matches!(s.begin("k", 2).await, Ok(Begin::Conflict)));
    s.complete("k", resp(&[b'x'; 100])).await;
    assert!(
        matches!(s.begin("k", 1).await, Ok(Begin::Execute)),
        "too large to keep"
    );
}

/// Duplicates of a running request wait, then replay its answer.
pub async fn idempotency_duplicates_wait_then_replay(b: &impl Backend) {
    let [x, y] = b.idempotency(1024).await;
    assert!(matches!(x.begin("k", 1).await, Ok(Begin::Execute)));
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let y = Arc::clone(&y);
        waiters.push(tokio::spawn(async move {
            loop {
                match y.begin("k", 1).await.unwrap() {
                    Begin::InFlight(w) => w.await,
                    Begin::Replay(r) => return r,
                    other => panic!("unexpected {other:?}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()), "duplicates wait");
    x.complete("k", resp(b"done")).await;
    for w in waiters {
        let r = tokio::time::timeout(Duration::from_secs(2), w)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.body, Bytes::from_static(b"done"));
    }
}

/// An abandoned claim wakes its waiters and lets the next request execute.
pub async fn idempotency_abandon_wakes_and_frees(b: &impl Backend) {
    let [x, y] = b.idempotency(1024).await;
    assert!(matches!(x.begin("k", 1).await, Ok(Begin::Execute)));
    let Ok(Begin::InFlight(w)) = y.begin("k", 1).await else {
        panic!("no wait")
    };
    x.abandon("k").await;
    tokio::time::timeout(Duration::from_secs(2), w)
        .await
        .unwrap();
    assert!(matches!(y.begin("k", 1).await, Ok(Begin::Execute)));
}

/// Requests per minute are counted across handles, per tenant, and the
/// refusal says how long until the next one passes.
pub async fn limits_rpm_is_shared_and_says_when(b: &impl Backend) {
    let [x, y] = b.limits().await;
    let l = Limits {
        requests_per_minute: Some(60),
        ..Limits::default()
    };
    for i in 0..60 {
        let s = if i % 2 == 0 { &x } else { &y };
        assert!(s.acquire("t", l, 0).await.unwrap().is_ok(), "request {i}");
    }
    let e = x.acquire("t", l, 0).await.unwrap().unwrap_err();
    assert_eq!(e.limit, "requests-per-minute");
    assert_eq!(e.value, 60);
    assert!(
        e.retry_after > Duration::from_millis(500) && e.retry_after <= Duration::from_secs(1),
        "{:?}",
        e.retry_after
    );
    assert!(
        y.acquire("other", l, 0).await.unwrap().is_ok(),
        "per tenant"
    );
    tokio::time::sleep(e.retry_after + Duration::from_millis(50)).await;
    assert!(y.acquire("t", l, 0).await.unwrap().is_ok(), "refilled");
}

/// A request refused for tokens per minute gives its request unit back,
/// and the wait is what the missing tokens take to refill.
pub async fn limits_tpm_refuses_and_returns_the_request_unit(b: &impl Backend) {
    let [s, _] = b.limits().await;
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

/// Concurrency is counted across handles and a dropped permit frees its slot.
pub async fn limits_concurrency_is_shared_and_released_on_drop(b: &impl Backend) {
    let [x, y] = b.limits().await;
    let l = Limits {
        concurrency: Some(2),
        ..Limits::default()
    };
    let p1 = x.acquire("t", l, 1).await.unwrap().unwrap();
    let _p2 = y.acquire("t", l, 1).await.unwrap().unwrap();
    let e = x.acquire("t", l, 1).await.unwrap().unwrap_err();
    assert_eq!(e.limit, "concurrency");
    assert_eq!(e.value, 2);
    assert_eq!(e.retry_after, Duration::from_secs(1));
    drop(p1);
    let mut admitted = false;
    for _ in 0..50 {
        if let Ok(Ok(p)) = y.acquire("t", l, 1).await {
            admitted = true;
            drop(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "the dropped permit released its slot");
}

/// Spend adds up across handles, per tenant and per month, and a budget
/// check refuses once it is spent, naming when it resets.
pub async fn spend_is_shared_per_tenant_and_month(b: &impl Backend) {
    let [x, y] = b.spend().await;
    let now = unix_ms() / 1000;
    let month = Period::containing(now);
    assert_eq!(x.add("t", month, 600_000).await.unwrap(), 600_000);
    assert_eq!(y.add("t", month, 400_000).await.unwrap(), 1_000_000);
    assert_eq!(x.spent("t", month).await.unwrap(), 1_000_000);
    assert_eq!(y.spent("other", month).await.unwrap(), 0, "per tenant");
    assert_eq!(y.spent("t", month.next()).await.unwrap(), 0, "per month");
    let e = check_budget(y.as_ref(), "t", 1.0, now)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.resets_at_unix, month.reset_unix());
    assert!(
        check_budget(y.as_ref(), "t", 1.5, now)
            .await
            .unwrap()
            .is_ok()
    );
}

/// An open circuit one replica publishes is seen by the other (not by
/// itself) until a close clears it everywhere or it expires.
pub async fn breakers_spread_between_replicas(b: &impl Backend) {
    let [one, two] = b.breakers().await;
    let open = |until_ms: u64, reason: &str| SharedBreaker {
        replica: 1,
        open_until_ms: until_ms,
        reason: reason.into(),
    };
    one.publish_open("primary", open(unix_ms() + 60_000, "5 failures in a row"));
    assert!(
        one.open_elsewhere("primary", 1).is_none(),
        "own state is local"
    );
    assert!(
        eventually(|| two.open_elsewhere("primary", 2).is_some()).await,
        "the other replica sees the open circuit"
    );
    assert_eq!(
        two.open_elsewhere("primary", 2).map(|b| b.reason),
        Some("5 failures in a row".into())
    );
    assert!(two.open_elsewhere("other", 2).is_none(), "per route");
    two.publish_closed("primary");
    assert!(two.open_elsewhere("primary", 2).is_none());
    assert!(
        eventually(|| one.open_elsewhere("primary", 3).is_none()).await,
        "a close clears it everywhere"
    );
    one.publish_open("primary", open(unix_ms() + 400, "short"));
    assert!(eventually(|| two.open_elsewhere("primary", 2).is_some()).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(two.open_elsewhere("primary", 2).is_none(), "expired");
}

fn drain(id: &str, route: &str, ttl_ms: Option<u64>) -> OperatorAction {
    let now = unix_ms();
    OperatorAction {
        id: id.into(),
        action: Action::Drain {
            route: route.into(),
        },
        who: Actor {
            name: "oncall".into(),
            role: Role::Operator,
        },
        created_ms: now,
        expires_ms: ttl_ms.map(|t| now + t),
        reason: "provider incident".into(),
    }
}

/// An action created through one replica is listed and applied by the
/// other (its snapshot, read without a round trip, catches up); one with a
/// TTL expires by itself everywhere; a revert takes it out everywhere and
/// returns it once.
pub async fn actions_are_shared_expire_and_revert(b: &impl Backend) {
    let [one, two] = b.actions().await;
    one.create(drain("a1", "primary", None)).await.unwrap();
    one.create(drain("a2", "secondary", Some(400)))
        .await
        .unwrap();
    let now = unix_ms();
    assert!(
        one.snapshot().load().blocks_route("primary", now).is_some(),
        "own writes are seen at once"
    );
    let mut listed: Vec<String> = two
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    listed.sort();
    assert_eq!(listed, ["a1", "a2"]);
    let view = two.snapshot();
    assert!(
        eventually(|| view.load().blocks_route("secondary", unix_ms()).is_some()).await,
        "the other replica's snapshot sees the action"
    );
    assert_eq!(
        view.load()
            .blocks_route("primary", unix_ms())
            .map(|a| a.reason.clone()),
        Some("provider incident".into())
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        view.load().blocks_route("secondary", unix_ms()).is_none(),
        "expired"
    );
    let listed: Vec<String> = one
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, ["a1"], "an expired action is not listed");
    let reverted = two.revert("a1").await.unwrap();
    assert_eq!(reverted.map(|a| a.id), Some("a1".into()));
    assert!(one.revert("a1").await.unwrap().is_none(), "reverted once");
    assert!(one.revert("nope").await.unwrap().is_none());
    let view = one.snapshot();
    assert!(
        eventually(|| view.load().blocks_route("primary", unix_ms()).is_none()).await,
        "a revert reaches every replica"
    );
    assert!(two.list().await.unwrap().is_empty());
}

/// One `#[tokio::test]` per contract, each with a fresh backend from
/// `$backend` (an expression evaluated per test), so a failure names the
/// contract; attributes after the expression (e.g. `#[ignore = "…"]`) go
/// on every test.
#[macro_export]
macro_rules! state_contracts {
    ($backend:expr $(, #[$attr:meta])* $(,)?) => {
        $crate::state_contracts!(@each [$(#[$attr])*] $backend;
            idempotency_executes_then_replays,
            idempotency_conflicts_and_drops_oversized,
            idempotency_duplicates_wait_then_replay,
            idempotency_abandon_wakes_and_frees,
            limits_rpm_is_shared_and_says_when,
            limits_tpm_refuses_and_returns_the_request_unit,
            limits_concurrency_is_shared_and_released_on_drop,
            spend_is_shared_per_tenant_and_month,
            breakers_spread_between_replicas,
            actions_are_shared_expire_and_revert,
            quality_marks_spread_per_replica_and_expire,
            quality_marks_for_an_intent_hold_for_that_intent_only,
            canary_steps_are_taken_once,
            shadow_budgets_are_shared_per_rule_and_hour,
            scores_add_up_across_replicas,
            canary_counts_add_up_per_step);
    };
    (@each $attrs:tt $backend:expr; $($name:ident),*) => {
        $( $crate::state_contracts!(@one $attrs $backend; $name); )*
    };
    (@one [$(#[$attr:meta])*] $backend:expr; $name:ident) => {
        #[tokio::test]
        $(#[$attr])*
        async fn $name() {
            let backend = $backend;
            $crate::contract::$name(&backend).await;
        }
    };
}

/// The in-process stores, fresh per contract.
#[cfg(test)]
mod memory {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Backend;
    use crate::{
        ActionStore, BoxFuture, BreakerStore, CanaryStore, IdempotencyStore, InMemoryActions,
        InMemoryBreakers, InMemoryCanaries, InMemoryIdempotency, InMemoryLimits, InMemoryQuality,
        InMemoryScores, InMemoryShadowBudgets, InMemorySpend, LimitStore, QualityStore, ScoreStore,
        ShadowBudgetStore, SpendStore,
    };

    struct Memory;

    fn twice<T: ?Sized>(s: Arc<T>) -> [Arc<T>; 2] {
        [Arc::clone(&s), s]
    }

    impl Backend for Memory {
        fn idempotency(
            &self,
            max_response_bytes: usize,
        ) -> BoxFuture<'_, [Arc<dyn IdempotencyStore>; 2]> {
            let s = InMemoryIdempotency::new(Duration::from_secs(60), 1000, max_response_bytes);
            Box::pin(async move { twice(Arc::new(s) as Arc<dyn IdempotencyStore>) })
        }
        fn limits(&self) -> BoxFuture<'_, [Arc<dyn LimitStore>; 2]> {
            Box::pin(async { twice(Arc::new(InMemoryLimits::default()) as Arc<dyn LimitStore>) })
        }
        fn spend(&self) -> BoxFuture<'_, [Arc<dyn SpendStore>; 2]> {
            Box::pin(async { twice(Arc::new(InMemorySpend::default()) as Arc<dyn SpendStore>) })
        }
        fn breakers(&self) -> BoxFuture<'_, [Arc<dyn BreakerStore>; 2]> {
            Box::pin(async {
                twice(Arc::new(InMemoryBreakers::default()) as Arc<dyn BreakerStore>)
            })
        }
        fn actions(&self) -> BoxFuture<'_, [Arc<dyn ActionStore>; 2]> {
            Box::pin(async { twice(Arc::new(InMemoryActions::default()) as Arc<dyn ActionStore>) })
        }
        fn quality(&self) -> BoxFuture<'_, [Arc<dyn QualityStore>; 2]> {
            Box::pin(async { twice(Arc::new(InMemoryQuality::default()) as Arc<dyn QualityStore>) })
        }
        fn canaries(&self) -> BoxFuture<'_, [Arc<dyn CanaryStore>; 2]> {
            Box::pin(async { twice(Arc::new(InMemoryCanaries::default()) as Arc<dyn CanaryStore>) })
        }
        fn shadow_budgets(&self) -> BoxFuture<'_, [Arc<dyn ShadowBudgetStore>; 2]> {
            Box::pin(async {
                twice(Arc::new(InMemoryShadowBudgets::default()) as Arc<dyn ShadowBudgetStore>)
            })
        }
        fn scores(&self) -> BoxFuture<'_, [Arc<dyn ScoreStore>; 2]> {
            Box::pin(async { twice(Arc::new(InMemoryScores::default()) as Arc<dyn ScoreStore>) })
        }
    }

    crate::state_contracts!(Memory);
}
