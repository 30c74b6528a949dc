//! The shared-state contracts (`signalbox_state::contract`) against the
//! Redis stores on a real `redis-server` (one per test, on a free port):
//! the same test bodies the in-process stores pass. Redis-only behaviour
//! (expiry, outages, claims held by another connection) is in `main.rs`.

use std::sync::Arc;
use std::time::Duration;

use signalbox_state::contract::Backend;
use signalbox_state::{
    ActionStore, BoxFuture, BreakerStore, CanaryStore, IdempotencyStore, LimitStore, QualityStore,
    ScoreStore, ShadowBudgetStore, SpendStore,
};
use signalbox_state_redis::{
    RedisActions, RedisBreakers, RedisCanaries, RedisConn, RedisIdempotency, RedisLimits,
    RedisQuality, RedisScores, RedisShadowBudgets, RedisSpend, RedisTimeouts,
};
use signalbox_testkit::redis::RedisServer;

/// One `redis-server`; every handle is its own connection, as two
/// replicas' would be.
struct Redis(RedisServer);

impl Redis {
    fn start() -> Self {
        Self(RedisServer::start())
    }

    async fn conn(&self) -> RedisConn {
        RedisConn::connect(&self.0.url(), "contract:", RedisTimeouts::default())
            .await
            .unwrap()
    }

    async fn pair<T: ?Sized>(&self, make: impl Fn(RedisConn) -> Arc<T>) -> [Arc<T>; 2] {
        [make(self.conn().await), make(self.conn().await)]
    }
}

impl Backend for Redis {
    fn idempotency(
        &self,
        max_response_bytes: usize,
    ) -> BoxFuture<'_, [Arc<dyn IdempotencyStore>; 2]> {
        Box::pin(self.pair(move |c| {
            Arc::new(RedisIdempotency::new(
                c,
                Duration::from_secs(60),
                Duration::from_secs(5),
                max_response_bytes,
            )) as Arc<dyn IdempotencyStore>
        }))
    }

    fn limits(&self) -> BoxFuture<'_, [Arc<dyn LimitStore>; 2]> {
        Box::pin(self.pair(|c| {
            Arc::new(RedisLimits::new(c, Duration::from_secs(60))) as Arc<dyn LimitStore>
        }))
    }

    fn spend(&self) -> BoxFuture<'_, [Arc<dyn SpendStore>; 2]> {
        Box::pin(self.pair(|c| Arc::new(RedisSpend::new(c)) as Arc<dyn SpendStore>))
    }

    fn breakers(&self) -> BoxFuture<'_, [Arc<dyn BreakerStore>; 2]> {
        Box::pin(self.pair(|c| {
            Arc::new(RedisBreakers::new(c, Duration::from_millis(100)).unwrap())
                as Arc<dyn BreakerStore>
        }))
    }

    fn actions(&self) -> BoxFuture<'_, [Arc<dyn ActionStore>; 2]> {
        Box::pin(self.pair(|c| {
            Arc::new(RedisActions::new(c, Duration::from_millis(100)).unwrap())
                as Arc<dyn ActionStore>
        }))
    }

    fn quality(&self) -> BoxFuture<'_, [Arc<dyn QualityStore>; 2]> {
        Box::pin(self.pair(|c| {
            Arc::new(RedisQuality::new(c, Duration::from_millis(100)).unwrap())
                as Arc<dyn QualityStore>
        }))
    }

    fn canaries(&self) -> BoxFuture<'_, [Arc<dyn CanaryStore>; 2]> {
        Box::pin(self.pair(|c| Arc::new(RedisCanaries::new(c)) as Arc<dyn CanaryStore>))
    }

    fn shadow_budgets(&self) -> BoxFuture<'_, [Arc<dyn ShadowBudgetStore>; 2]> {
        Box::pin(self.pair(|c| Arc::new(RedisShadowBudgets::new(c)) as Arc<dyn ShadowBudgetStore>))
    }

    fn scores(&self) -> BoxFuture<'_, [Arc<dyn ScoreStore>; 2]> {
        Box::pin(self.pair(|c| Arc::new(RedisScores::new(c).unwrap()) as Arc<dyn ScoreStore>))
    }
}

signalbox_state::state_contracts!(
    Redis::start(),
    #[ignore = "needs redis-server on PATH; .ci/run runs these with --ignored"]
);
