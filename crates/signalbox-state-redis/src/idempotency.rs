//! `Idempotency-Key` records in Redis, shared by every replica: one key per
//! record (`{prefix}idem:{key}`) holding a small JSON document — the request
//! fingerprint, the state (`in-flight` or `completed`) and, once completed,
//! the response (status, headers, base64 body).
//!
//! - `begin` claims the key with `SET … NX PX in-flight-ttl` (in a script
//!   that returns the existing record when the claim fails): a claim means
//!   execute; an existing record with another fingerprint is a conflict; an
//!   in-flight one is waited for (polled every 50 ms, at most the in-flight
//!   TTL); a completed one is replayed.
//! - `complete` replaces this replica's claim with the completed record for
//!   the response TTL (responses over the size limit are not kept: the claim
//!   is deleted instead); `abandon` deletes the key only if it is still this
//!   replica's claim (a script compares the stored claim byte for byte).
//!
//! The in-process store's entry bound does not apply: Redis holds records
//! until their TTL (size Redis with `maxmemory` and a `volatile-*` policy).
//! The in-flight TTL bounds how long a crashed replica's claim blocks a key.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use parking_lot::Mutex;
use redis::Script;
use serde::{Deserialize, Serialize};
use signalbox_state::{Begin, BoxFuture, IdempotencyStore, StateError, StoredResponse};

use crate::RedisConn;

/// How often a waiter looks at an in-flight key.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum State {
    InFlight,
    Completed,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// Request fingerprint.
    fp: u64,
    state: State,
    /// Which claim this is (in-flight records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(String, String)>,
    /// Base64 body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

impl Record {
    fn response(self) -> Result<StoredResponse, StateError> {
        let body = B64
            .decode(self.body.unwrap_or_default())
            .map_err(|e| StateError(format!("redis idempotency record: {e}")))?;
        Ok(StoredResponse {
            status: self.status.unwrap_or(200),
            headers: self.headers,
            body: Bytes::from(body),
        })
    }
}

/// Claims the key or returns the record already there.
const BEGIN: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[1])
";

/// Replaces the claim `ARGV[1]` with `ARGV[2]` for `ARGV[3]` ms, or deletes
/// it when `ARGV[2]` is empty; does nothing when the claim is not there.
const FINISH: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
";

/// The Redis idempotency store.
#[derive(Clone)]
pub struct RedisIdempotency {
    conn: RedisConn,
    ttl: Duration,
    in_flight_ttl: Duration,
    max_response_bytes: usize,
    /// Claims this instance holds: key → the exact in-flight record.
    claims: Arc<Mutex<HashMap<String, String>>>,
    next_claim: Arc<AtomicU64>,
    begin: Arc<Script>,
    finish: Arc<Script>,
}

impl std::fmt::Debug for RedisIdempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIdempotency")
            .field("conn", &self.conn)
            .field("ttl", &self.ttl)
            .field("in_flight_ttl", &self.in_flight_ttl)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisIdempotency {
    /// A store keeping responses of at most `max_response_bytes` for `ttl`;
    /// a claim not completed within `in_flight_ttl` (its replica died)
    /// expires and the key can execute again.
    pub fn new(
        conn: RedisConn,
        ttl: Duration,
        in_flight_ttl: Duration,
        max_response_bytes: usize,
    ) -> Self {
        // A random start keeps claim ids distinct across replicas.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self {
            conn,
            ttl,
            in_flight_ttl,
            max_response_bytes,
            claims: Arc::default(),
            next_claim: Arc::new(AtomicU64::new(seed)),
            begin: Arc::new(Script::new(BEGIN)),
            finish: Arc::new(Script::new(FINISH)),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        self.conn.key(&format!("idem:{key}"))
    }

    async fn finish(&self, key: &str, replacement: &str) {
        let Some(claim) = self.claims.lock().remove(key) else {
            return;
        };
        let mut inv = self.finish.key(self.redis_key(key));
        inv.arg(claim).arg(replacement).arg(ms(self.ttl));
        if let Err(e) = self.conn.script::<i64>(&inv).await {
            tracing::warn!(error = %e, "idempotency record not updated; the claim expires with its in-flight TTL");
        }
    }
}

fn waiter(conn: RedisConn, key: String, seen: Vec<u8>, limit: Duration) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            match conn
                .query::<Option<Vec<u8>>>(redis::cmd("GET").arg(&key))
                .await
            {
                // Still the same claim: keep waiting.
                Ok(Some(v)) if v == seen => {}
                // Completed, abandoned, expired or claimed again; or Redis
                // failed, which the next `begin` reports.
                _ => return,
            }
        }
    })
}

impl IdempotencyStore for RedisIdempotency {
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: u64,
    ) -> BoxFuture<'a, Result<Begin, StateError>> {
        Box::pin(async move {
            let claim_id = self.next_claim.fetch_add(1, Ordering::Relaxed);
            let claim = serde_json::to_string(&Record {
                fp: fingerprint,
                state: State::InFlight,
                claim: Some(claim_id),
                status: None,
                headers: Vec::new(),
                body: None,
            })
            .map_err(|e| StateError(format!("redis idempotency record: {e}")))?;
            let rkey = self.redis_key(key);
            let mut inv = self.begin.key(&rkey);
            inv.arg(&claim).arg(ms(self.in_flight_ttl));
            let existing: Option<Vec<u8>> = self.conn.script(&inv).await?;
            let Some(raw) = existing else {
                self.claims.lock().insert(key.to_owned(), claim);
                return Ok(Begin::Execute);
            };
            let record: Record = serde_json::from_slice(&raw)
                .map_err(|e| StateError(format!("redis idempotency record: {e}")))?;
            if record.fp != fingerprint {
                return Ok(Begin::Conflict);
            }
            Ok(match record.state {
                State::InFlight => {
                    Begin::InFlight(waiter(self.conn.clone(), rkey, raw, self.in_flight_ttl))
                }
                State::Completed => Begin::Replay(record.response()?),
            })
        })
    }

    fn complete<'a>(&'a self, key: &'a str, response: StoredResponse) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let fp = {
                let claims = self.claims.lock();
                let Some(claim) = claims.get(key) else {
                    return;
                };
                serde_json::from_str::<Record>(claim).map(|r| r.fp).ok()
            };
            let replacement = match fp {
                Some(fp) if response.size() <= self.max_response_bytes => {
                    serde_json::to_string(&Record {
                        fp,
                        state: State::Completed,
                        claim: None,
                        status: Some(response.status),
                        headers: response.headers,
                        body: Some(B64.encode(&response.body)),
                    })
                    .unwrap_or_default()
                }
                // Too large to keep: release the key.
                _ => String::new(),
            };
            self.finish(key, &replacement).await;
        })
    }

    fn abandon<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.finish(key, "").await })
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn records_round_trip_bytes_exactly() {
        let body: Vec<u8> = (0..=255u8).collect();
        let r = Record {
            fp: u64::MAX,
            state: State::Completed,
            claim: None,
            status: Some(201),
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Some(B64.encode(&body)),
        };
        let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.fp, u64::MAX);
        let resp = back.response().unwrap();
        assert_eq!(resp.status, 201);
        assert_eq!(&resp.body[..], &body[..]);
    }
}
