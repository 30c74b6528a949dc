//! Tenant limits in Redis, shared by every replica, with the in-process
//! store's semantics: requests and tokens per minute are token buckets
//! (a full minute's allowance as burst, refilled continuously; a request
//! larger than the whole allowance passes when the bucket is full), kept in
//! a hash `{prefix}limits:{tenant}`; concurrency is a counter
//! `{prefix}limits:{tenant}:in-flight`. One Lua script checks and takes all
//! three atomically, using the Redis clock, so `retry-after` is exact.
//!
//! A permit's drop releases its slot with a `DECR` on a spawned task. The
//! counter carries a safety TTL (refreshed by every admission) so slots of a
//! replica that died mid-request are not held forever.
//!
//! When Redis cannot answer, limits fail OPEN: the request is admitted
//! without a slot, and a warning is logged at most once per 10 seconds.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use signalbox_state::{BoxFuture, LimitExceeded, LimitPermit, LimitStore, Limits, StateError};

use crate::{FailOpenWarning, RedisConn};

/// KEYS: bucket hash, concurrency counter.
/// ARGV: concurrency, rpm, tpm (-1 = unlimited), tokens, safety TTL (ms).
/// Returns `{0}` when admitted, else `{which, value, retry_after_ms}` with
/// which = 1 concurrency, 2 requests, 3 tokens.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local conc = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
if conc >= 0 then
  local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
  if cur >= conc then
    return {1, conc, 1000}
  end
end
local function level(field, cap)
  local l = tonumber(redis.call('HGET', KEYS[1], field .. 'l') or cap)
  local at = tonumber(redis.call('HGET', KEYS[1], field .. 'a') or now)
  local elapsed = math.max(0, now - at)
  return math.min(cap, l + elapsed * cap / 60000)
end
local function store(field, l)
  redis.call('HSET', KEYS[1], field .. 'l', tostring(l), field .. 'a', tostring(now))
end
local rl = nil
if rpm >= 0 then
  rl = level('r', rpm)
  if rl < math.min(1, rpm) then
    store('r', rl)
    redis.call('PEXPIRE', KEYS[1], 120000)
    return {2, rpm, math.ceil((math.min(1, rpm) - rl) * 60000 / rpm)}
  end
end
if tpm >= 0 then
  local tl = level('t', tpm)
  local need = math.min(tokens, tpm)
  if tl < need then
    store('t', tl)
    if rl then store('r', rl) end
    redis.call('PEXPIRE', KEYS[1], 120000)
    return {3, tpm, math.ceil((need - tl) * 60000 / tpm)}
  end
  store('t', tl - need)
end
if rl then store('r', rl - math.min(1, rpm)) end
if rpm >= 0 or tpm >= 0 then
  redis.call('PEXPIRE', KEYS[1], 120000)
end
if conc >= 0 then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {0}
";

/// Releases one slot; drops the counter at zero.
const RELEASE: &str = r"
local v = redis.call('DECR', KEYS[1])
if v <= 0 then
  redis.call('DEL', KEYS[1])
end
return v
";

/// The Redis limit store.
#[derive(Clone)]
pub struct RedisLimits {
    conn: RedisConn,
    safety_ttl: Duration,
    acquire: Arc<Script>,
    release: Arc<Script>,
    warning: Arc<FailOpenWarning>,
}

impl std::fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimits")
            .field("conn", &self.conn)
            .field("safety_ttl", &self.safety_ttl)
            .finish_non_exhaustive()
    }
}

impl RedisLimits {
    /// A store whose concurrency counters expire `safety_ttl` after the
    /// tenant's last admission (set it above the longest request).
    pub fn new(conn: RedisConn, safety_ttl: Duration) -> Self {
        Self {
            conn,
            safety_ttl,
            acquire: Arc::new(Script::new(ACQUIRE)),
            release: Arc::new(Script::new(RELEASE)),
            warning: Arc::new(FailOpenWarning::new(
                "tenant limits unavailable; admitting requests (fail open)",
            )),
        }
    }

    async fn try_acquire(
        &self,
        tenant: &str,
        limits: Limits,
        tokens: u64,
    ) -> Result<Result<LimitPermit, LimitExceeded>, StateError> {
        let conc_key = self.conn.key(&format!("limits:{tenant}:in-flight"));
        let mut inv = self.acquire.key(self.conn.key(&format!("limits:{tenant}")));
        inv.key(&conc_key)
            .arg(limits.concurrency.map_or(-1, i64::from))
            .arg(limits.requests_per_minute.map_or(-1, i64::from))
            .arg(
                limits
                    .tokens_per_minute
                    .map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)),
            )
            .arg(tokens)
            .arg(u64::try_from(self.safety_ttl.as_millis()).unwrap_or(u64::MAX));
        let answer: Vec<i64> = self.conn.script(&inv).await?;
        let which = answer.first().copied().unwrap_or(0);
        let value = u64::try_from(answer.get(1).copied().unwrap_or(0)).unwrap_or(0);
        let wait =
            Duration::from_millis(u64::try_from(answer.get(2).copied().unwrap_or(0)).unwrap_or(0));
        let limit = match which {
            0 => {
                if limits.concurrency.is_none() {
                    return Ok(Ok(LimitPermit::unlimited()));
                }
                let conn = self.conn.clone();
                let release = Arc::clone(&self.release);
                return Ok(Ok(LimitPermit::on_drop(move || {
                    let Ok(rt) = tokio::runtime::Handle::try_current() else {
                        // No runtime to release on: the safety TTL frees the slot.
                        return;
                    };
                    rt.spawn(async move {
                        let inv = release.key(&conc_key);
                        if let Err(e) = conn.script::<i64>(&inv).await {
                            tracing::debug!(error = %e, "concurrency slot not released; it expires with the safety TTL");
                        }
                    });
                })));
            }
            1 => "concurrency",
            2 => "requests-per-minute",
            _ => "tokens-per-minute",
        };
        Ok(Err(LimitExceeded {
            limit,
            value,
            retry_after: wait,
        }))
    }
}

impl LimitStore for RedisLimits {
    fn acquire<'a>(
        &'a self,
        tenant: &'a str,
        limits: Limits,
        tokens: u64,
    ) -> BoxFuture<'a, Result<Result<LimitPermit, LimitExceeded>, StateError>> {
        Box::pin(async move {
            if limits == Limits::default() {
                return Ok(Ok(LimitPermit::unlimited()));
            }
            match self.try_acquire(tenant, limits, tokens).await {
                Ok(r) => Ok(r),
                Err(e) => {
                    self.warning.warn(&e);
                    Ok(Ok(LimitPermit::unlimited()))
                }
            }
        })
    }
}
