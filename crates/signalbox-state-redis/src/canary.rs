//! Canary rollouts shared through Redis: one key per rollout,
//! `{prefix}canary:{key}`, a hash holding the generation (`gen`) and the
//! step as JSON (`step`). A step is taken by one script that compares the
//! generation and writes only if it is still the one the replica saw, so
//! two replicas deciding at once take one step. Keys expire 30 days after
//! their last step (a rollout left alone that long is over).
//!
//! What a step is judged on is counted in `{prefix}canary-counts:{key}:
//! {generation}`, a hash with a field per replica and counter
//! (`{replica}:{name}`): one script adds a replica's deltas (`HINCRBY`),
//! renews the expiry (a day after the last count) and returns the whole
//! hash, so a replica reads every replica's counts of the step in the
//! round trip that adds its own. A new step is a new key. Every call is
//! bounded by the operation timeout; when Redis is unreachable the caller
//! gets a [`StateError`] and the gateway steps its own copy.

use std::collections::HashMap;

use redis::Script;
use signalbox_state::{Advance, BoxFuture, CanaryStore, RolloutStep, StateError, StepCounts};

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

/// How long a step's counts outlive the last replica's count.
const COUNTS_KEEP_MS: u64 = 24 * 3600 * 1000;

/// KEYS: the step's counts. ARGV: the TTL in ms, then field and delta
/// pairs. Returns the whole hash (field, value, …).
const COUNT: &str = r"
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
";

/// The Redis canary store (see the module docs).
#[derive(Debug)]
pub struct RedisCanaries {
    conn: RedisConn,
    advance: Script,
    count: Script,
}

impl RedisCanaries {
    /// A store on `conn`.
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            advance: Script::new(ADVANCE),
            count: Script::new(COUNT),
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

    fn count<'a>(
        &'a self,
        key: &'a str,
        generation: u64,
        replica: u64,
        delta: StepCounts,
    ) -> BoxFuture<'a, Result<HashMap<u64, StepCounts>, StateError>> {
        Box::pin(async move {
            let mut inv = self
                .count
                .key(self.conn.key(&format!("canary-counts:{key}:{generation}")));
            inv.arg(COUNTS_KEEP_MS);
            for (name, n) in delta.iter().filter(|(_, n)| **n > 0) {
                inv.arg(format!("{replica}:{name}")).arg(*n);
            }
            let flat: Vec<String> = self.conn.script(&inv).await?;
            Ok(by_replica(&flat))
        })
    }
}

/// `{replica}:{name}` fields and their values, by replica (a field that is
/// not one is ignored).
fn by_replica(flat: &[String]) -> HashMap<u64, StepCounts> {
    let mut out: HashMap<u64, StepCounts> = HashMap::new();
    for pair in flat.chunks_exact(2) {
        if let [field, value] = pair
            && let Some((replica, name)) = field.split_once(':')
            && let (Ok(replica), Ok(n)) = (replica.parse(), value.parse())
        {
            out.entry(replica).or_default().insert(name.to_owned(), n);
        }
    }
    out
}
