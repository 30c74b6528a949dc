//! Canary rollouts shared through Redis: one key per rollout,
//! `{prefix}canary:{key}`, a hash holding the generation (`gen`) and the
//! step as JSON (`step`). A step is taken by one script that compares the
//! generation and writes only if it is still the one the replica saw, so
//! two replicas deciding at once take one step. Keys expire 30 days after
//! their last step (a rollout left alone that long is over). Every call is
//! bounded by the operation timeout; when Redis is unreachable the caller
//! gets a [`StateError`] and the gateway steps its own copy.

use redis::Script;
use signalbox_state::{Advance, BoxFuture, CanaryStore, RolloutStep, StateError};

use crate::RedisConn;

/// How long a rollout's key outlives its last step.
const KEEP_MS: u64 = 30 * 24 * 3600 * 1000;

/// KEYS: the rollout. ARGV: the expected generation, the next one, the
/// step's JSON, the TTL in ms. Returns `{1, ''}` when written, else `{0,
/// the current step or ''}` (a Lua `false` would end the array).
const ADVANCE: &str = r"
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0')
if gen ~= tonumber(ARGV[1]) then
  return {0, redis.call('HGET', KEYS[1], 'step') or ''}
end
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'step', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, ''}
";

/// The Redis canary store (see the module docs).
#[derive(Debug)]
pub struct RedisCanaries {
    conn: RedisConn,
    advance: Script,
}

impl RedisCanaries {
    /// A store on `conn`.
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            advance: Script::new(ADVANCE),
        }
    }

    fn key(&self, key: &str) -> String {
        self.conn.key(&format!("canary:{key}"))
    }
}

fn decode(json: Option<String>) -> Result<Option<RolloutStep>, StateError> {
    json.map(|j| serde_json::from_str(&j))
        .transpose()
        .map_err(|e| StateError(format!("canary record: {e}")))
}

impl CanaryStore for RedisCanaries {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<RolloutStep>, StateError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("HGET");
            cmd.arg(self.key(key)).arg("step");
            decode(self.conn.query(&cmd).await?)
        })
    }

    fn advance<'a>(
        &'a self,
        key: &'a str,
        expected: u64,
        next: RolloutStep,
    ) -> BoxFuture<'a, Result<Advance, StateError>> {
        Box::pin(async move {
            if next.generation != expected + 1 {
                return Ok(Advance::Moved(self.load(key).await?));
            }
            let json = serde_json::to_string(&next)
                .map_err(|e| StateError(format!("canary record: {e}")))?;
            let mut inv = self.advance.key(self.key(key));
            inv.arg(expected)
                .arg(next.generation)
                .arg(json)
                .arg(KEEP_MS);
            let (written, current): (u8, String) = self.conn.script(&inv).await?;
            if written == 1 {
                Ok(Advance::Taken)
            } else {
                Ok(Advance::Moved(decode(
                    Some(current).filter(|c| !c.is_empty()),
                )?))
            }
        })
    }
}
