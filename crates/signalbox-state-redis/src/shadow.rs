//! Shadow budgets shared through Redis: one hash per rule and clock hour,
//! `{prefix}shadow:{rule}:{hour}` with the requests taken (`req`) and the
//! spend in micro-dollars (`cost`), expiring two hours after it is made.
//! Taking a request checks both and counts it in one script, so replicas
//! never overrun the hour's budget together. Calls are bounded by the
//! operation timeout; when Redis is unreachable the caller gets a
//! [`StateError`] and the gateway counts on its own budget.

use redis::Script;
use signalbox_state::{BoxFuture, ShadowBudgetStore, StateError};

use crate::RedisConn;

/// How long an hour's counters are kept.
const KEEP_MS: u64 = 2 * 3600 * 1000;

/// KEYS: the rule's hour. ARGV: the request cap, the spend cap in micros
/// (-1: none), the TTL in ms. Returns 1 when a request was taken.
const TAKE: &str = r"
local req = tonumber(redis.call('HGET', KEYS[1], 'req') or '0')
local cost = tonumber(redis.call('HGET', KEYS[1], 'cost') or '0')
local max_cost = tonumber(ARGV[2])
if req >= tonumber(ARGV[1]) or (max_cost >= 0 and cost >= max_cost) then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'req', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// The Redis shadow-budget store (see the module docs).
#[derive(Debug)]
pub struct RedisShadowBudgets {
    conn: RedisConn,
    take: Script,
}

impl RedisShadowBudgets {
    /// A store on `conn`.
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            take: Script::new(TAKE),
        }
    }

    fn key(&self, rule: &str, hour: u64) -> String {
        self.conn.key(&format!("shadow:{rule}:{hour}"))
    }
}

impl ShadowBudgetStore for RedisShadowBudgets {
    fn take<'a>(
        &'a self,
        rule: &'a str,
        hour: u64,
        max_requests: u64,
        max_cost_micros: Option<u64>,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(async move {
            let mut inv = self.take.key(self.key(rule, hour));
            let max_cost = max_cost_micros.map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX));
            inv.arg(max_requests).arg(max_cost).arg(KEEP_MS);
            let taken: u8 = self.conn.script(&inv).await?;
            Ok(taken == 1)
        })
    }

    fn spend<'a>(
        &'a self,
        rule: &'a str,
        hour: u64,
        cost_micros: u64,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let key = self.key(rule, hour);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("HINCRBY")
                .arg(&key)
                .arg("cost")
                .arg(cost_micros)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(KEEP_MS)
                .ignore();
            self.conn.pipe(&pipe).await
        })
    }
}
