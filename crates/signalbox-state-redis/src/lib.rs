//! Redis implementations of the shared-state stores of `signalbox-state`,
//! so gateway replicas agree on idempotency records ([`RedisIdempotency`]),
//! tenant limits ([`RedisLimits`]), tenant spend ([`RedisSpend`]), open
//! circuits ([`RedisBreakers`]), operator actions ([`RedisActions`]),
//! quality marks ([`RedisQuality`]), quality scores ([`RedisScores`]),
//! canary rollouts and their steps' counts ([`RedisCanaries`]) and shadow
//! budgets ([`RedisShadowBudgets`]).
//!
//! Every store shares one [`RedisConn`]: a `redis::aio::ConnectionManager`
//! (one multiplexed connection, reconnected automatically) plus the key
//! prefix (default `signalbox:`). Every command is bounded by a timeout, so
//! an unreachable Redis never hangs a request: idempotency answers
//! [`StateError`], limits and budgets fail open (with a rate-limited
//! warning) and breakers keep their last local view.

mod actions;
mod breakers;
mod canary;
mod idempotency;
mod limits;
mod quality;
mod scores;
mod shadow;
mod spend;

pub use actions::RedisActions;
pub use breakers::RedisBreakers;
pub use canary::RedisCanaries;
pub use idempotency::RedisIdempotency;
pub use limits::RedisLimits;
pub use quality::RedisQuality;
pub use scores::RedisScores;
pub use shadow::RedisShadowBudgets;
pub use spend::RedisSpend;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, ScriptInvocation};
use signalbox_state::StateError;

/// Returns `{member, value, …}` for every live entry of the index set
/// `KEYS[1]` (entry keys are `ARGV[1] .. member`), dropping members whose
/// key expired: how the breaker and action stores read their whole state
/// without a keyspace scan.
pub(crate) const INDEX_SNAPSHOT: &str = r"
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. r)
  if v then
    table.insert(out, r)
    table.insert(out, v)
  else
    redis.call('SREM', KEYS[1], r)
  end
end
return out
";

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "signalbox:";

/// Timeouts for the connection.
#[derive(Debug, Clone, Copy)]
pub struct RedisTimeouts {
    /// Bound on establishing a connection (at startup and on reconnects).
    pub connect: Duration,
    /// Bound on any single store operation, reconnect waits included.
    pub operation: Duration,
}

impl Default for RedisTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            operation: Duration::from_secs(1),
        }
    }
}

/// A connection to Redis shared by the stores, with the key prefix.
#[derive(Clone)]
pub struct RedisConn {
    manager: ConnectionManager,
    prefix: Arc<str>,
    op_timeout: Duration,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("RedisConn")
            .field("prefix", &self.prefix)
            .field("op_timeout", &self.op_timeout)
            .finish_non_exhaustive()
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> StateError {
    StateError(format!("redis {what}: {e}"))
}

impl RedisConn {
    /// Connects to `url` and checks the server answers `PING` within
    /// `timeouts.connect`. Must run inside a Tokio runtime.
    pub async fn connect(
        url: &str,
        prefix: &str,
        timeouts: RedisTimeouts,
    ) -> Result<Self, StateError> {
        let conn = Self::lazy(url, prefix, timeouts)?;
        let ping = redis::cmd("PING");
        let mut m = conn.manager.clone();
        match tokio::time::timeout(timeouts.connect, ping.query_async::<String>(&mut m)).await {
            Ok(Ok(_)) => Ok(conn),
            Ok(Err(e)) => Err(err("connect", e)),
            Err(_) => Err(StateError(format!(
                "redis connect: no answer within {:?}",
                timeouts.connect
            ))),
        }
    }

    /// As [`connect`](Self::connect), for synchronous startup code running
    /// inside a Tokio runtime: the reachability check uses a blocking
    /// connection bounded by `timeouts.connect`, then the shared connection
    /// is opened on first use.
    pub fn connect_blocking(
        url: &str,
        prefix: &str,
        timeouts: RedisTimeouts,
    ) -> Result<Self, StateError> {
        let client = redis::Client::open(url).map_err(|e| err("url", e))?;
        let mut c = client
            .get_connection_with_timeout(timeouts.connect)
            .map_err(|e| err("connect", e))?;
        c.set_read_timeout(Some(timeouts.connect))
            .map_err(|e| err("connect", e))?;
        redis::cmd("PING")
            .query::<String>(&mut c)
            .map_err(|e| err("connect", e))?;
        drop(c);
        Self::lazy(url, prefix, timeouts)
    }

    fn lazy(url: &str, prefix: &str, timeouts: RedisTimeouts) -> Result<Self, StateError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StateError(
                "redis: the connection must be opened inside a Tokio runtime".into(),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| err("url", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.operation))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| err("connect", e))?;
        Ok(Self {
            manager,
            prefix: Arc::from(prefix),
            op_timeout: timeouts.operation,
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `prefix` + `rest`.
    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Runs `cmd`, bounded by the operation timeout.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StateError> {
        let mut m = self.manager.clone();
        match tokio::time::timeout(self.op_timeout, cmd.query_async::<T>(&mut m)).await {
            Ok(r) => r.map_err(|e| err("command", e)),
            Err(_) => Err(StateError(format!(
                "redis command: no answer within {:?}",
                self.op_timeout
            ))),
        }
    }

    /// Runs a script, bounded by the operation timeout.
    pub(crate) async fn script<T: FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, StateError> {
        let mut m = self.manager.clone();
        match tokio::time::timeout(self.op_timeout, inv.invoke_async::<T>(&mut m)).await {
            Ok(r) => r.map_err(|e| err("script", e)),
            Err(_) => Err(StateError(format!(
                "redis script: no answer within {:?}",
                self.op_timeout
            ))),
        }
    }

    /// Runs an atomic pipeline, bounded by the operation timeout.
    pub(crate) async fn pipe(&self, pipe: &redis::Pipeline) -> Result<(), StateError> {
        let mut m = self.manager.clone();
        match tokio::time::timeout(self.op_timeout, pipe.query_async::<()>(&mut m)).await {
            Ok(r) => r.map_err(|e| err("pipeline", e)),
            Err(_) => Err(StateError(format!(
                "redis pipeline: no answer within {:?}",
                self.op_timeout
            ))),
        }
    }
}

/// A store that fails open says so, at most once per
/// [`signalbox_state::WARN_EVERY`], with how often it did since.
#[derive(Debug)]
pub(crate) struct FailOpenWarning {
    message: &'static str,
    due: signalbox_state::RateLimitedWarn,
}

impl FailOpenWarning {
    pub(crate) fn new(message: &'static str) -> Self {
        Self {
            message,
            due: signalbox_state::RateLimitedWarn::default(),
        }
    }

    pub(crate) fn warn(&self, e: &StateError) {
        if let Some(times) = self.due.due() {
            tracing::warn!(error = %e, times, "{}", self.message);
        }
    }
}
