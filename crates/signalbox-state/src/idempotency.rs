//! `Idempotency-Key` records: the first request executes, concurrent
//! duplicates wait for it, later duplicates replay its stored response, and
//! a different body under the same key is a conflict.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::{Duration, Instant};

use crate::{BoxFuture, StateError};

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers to replay (content type and `x-signalbox-*`).
    pub headers: Vec<(String, String)>,
    /// The body; for a stream, its events concatenated in order.
    pub body: Bytes,
}

impl StoredResponse {
    /// Bytes this record holds.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// Resolves when the in-flight request with the same key finishes.
pub type Waiter = BoxFuture<'static, ()>;

/// What a request holding an idempotency key should do.
pub enum Begin {
    /// First with this key: execute, then `complete` or `abandon`.
    Execute,
    /// The same request is in flight: wait, then `begin` again.
    InFlight(Waiter),
    /// Already answered: replay this.
    Replay(StoredResponse),
    /// The key was used with a different request body.
    Conflict,
}

impl std::fmt::Debug for Begin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Execute => "Execute",
            Self::InFlight(_) => "InFlight",
            Self::Replay(_) => "Replay",
            Self::Conflict => "Conflict",
        })
    }
}

/// Idempotency records, keyed by tenant-scoped key.
pub trait IdempotencyStore: Send + Sync + std::fmt::Debug {
    /// Claims `key` for a request whose body hashes to `fingerprint`.
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: u64,
    ) -> BoxFuture<'a, Result<Begin, StateError>>;
    /// Stores the answer of the request that claimed `key` (dropped when too large).
    fn complete<'a>(&'a self, key: &'a str, response: StoredResponse) -> BoxFuture<'a, ()>;
    /// Releases `key` without an answer to replay (the request failed in a
    /// way a retry may fix), waking any waiters to execute themselves.
    fn abandon<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()>;
}

#[derive(Debug)]
enum Entry {
    Running {
        fingerprint: u64,
        done: watch::Sender<bool>,
    },
    Done {
        fingerprint: u64,
        response: StoredResponse,
        expires: Instant,
    },
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Completion order, oldest first, for eviction by count and TTL.
    order: VecDeque<(Instant, String)>,
    bytes: usize,
}

/// The in-process store: bounded by entries, bytes per response and TTL.
#[derive(Debug, Clone)]
pub struct InMemoryIdempotency {
    inner: Arc<Mutex<Inner>>,
    ttl: Duration,
    max_entries: usize,
    max_response_bytes: usize,
}

impl InMemoryIdempotency {
    /// A store keeping at most `max_entries` responses of at most
    /// `max_response_bytes` each, for `ttl`.
    pub fn new(ttl: Duration, max_entries: usize, max_response_bytes: usize) -> Self {
        Self {
            inner: Arc::default(),
            ttl,
            max_entries: max_entries.max(1),
            max_response_bytes,
        }
    }

    /// Stored responses and their total bytes.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.inner.lock();
        (g.order.len(), g.bytes)
    }

    fn evict(inner: &mut Inner, now: Instant, max_entries: usize) {
        while let Some((expires, _)) = inner.order.front() {
            if *expires > now && inner.order.len() <= max_entries {
                break;
            }
            let Some((expires, key)) = inner.order.pop_front() else {
                break;
            };
            // Only remove the completed entry this slot was made for (the key
            // may have been reused since).
            if let Some(Entry::Done {
                expires: e,
                response,
                ..
            }) = inner.entries.get(&key)
                && *e == expires
            {
                inner.bytes = inner.bytes.saturating_sub(response.size());
                inner.entries.remove(&key);
            }
        }
    }
}

impl IdempotencyStore for InMemoryIdempotency {
    fn begin<'a>(
        &'a self,
        key: &'a str,
        fingerprint: u64,
    ) -> BoxFuture<'a, Result<Begin, StateError>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut g = self.inner.lock();
            Self::evict(&mut g, now, self.max_entries);
            let answer = match g.entries.get(key) {
                Some(
                    Entry::Running { fingerprint: f, .. } | Entry::Done { fingerprint: f, .. },
                ) if *f != fingerprint => Begin::Conflict,
                Some(Entry::Running { done, .. }) => {
                    let mut rx = done.subscribe();
                    Begin::InFlight(Box::pin(async move {
                        // Resolves on completion, abandonment or the sender's drop.
                        let _ = rx.wait_for(|d| *d).await;
                    }))
                }
                Some(Entry::Done {
                    response, expires, ..
                }) if *expires > now => Begin::Replay(response.clone()),
                _ => {
                    let (done, _) = watch::channel(false);
                    g.entries
                        .insert(key.to_owned(), Entry::Running { fingerprint, done });
                    Begin::Execute
                }
            };
            Ok(answer)
        })
    }

    fn complete<'a>(&'a self, key: &'a str, response: StoredResponse) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let now = Instant::now();
            let mut g = self.inner.lock();
            let Some(Entry::Running { fingerprint, done }) = g.entries.remove(key) else {
                return;
            };
            if response.size() <= self.max_response_bytes {
                let expires = now + self.ttl;
                g.bytes += response.size();
                g.entries.insert(
                    key.to_owned(),
                    Entry::Done {
                        fingerprint,
                        response,
                        expires,
                    },
                );
                g.order.push_back((expires, key.to_owned()));
                Self::evict(&mut g, now, self.max_entries);
            }
            let _ = done.send(true);
        })
    }

    fn abandon<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut g = self.inner.lock();
            if matches!(g.entries.get(key), Some(Entry::Running { .. }))
                && let Some(Entry::Running { done, .. }) = g.entries.remove(key)
            {
                let _ = done.send(true);
            }
        })
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn resp(body: &str) -> StoredResponse {
        StoredResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_owned()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_executes_duplicates_wait_then_replay() {
        let s = InMemoryIdempotency::new(Duration::from_secs(60), 10, 1024);
        assert!(matches!(s.begin("t/k", 1).await, Ok(Begin::Execute)));
        let Ok(Begin::InFlight(wait)) = s.begin("t/k", 1).await else {
            panic!("duplicate did not wait")
        };
        s.complete("t/k", resp("{}")).await;
        wait.await;
        let Ok(Begin::Replay(r)) = s.begin("t/k", 1).await else {
            panic!("no replay")
        };
        assert_eq!(r, resp("{}"));
        assert!(matches!(s.begin("t/k", 2).await, Ok(Begin::Conflict)));
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_keys_execute_again_and_entries_expire() {
        let s = InMemoryIdempotency::new(Duration::from_secs(60), 10, 1024);
        assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
        s.abandon("k").await;
        assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
        s.complete("k", resp("x")).await;
        assert!(matches!(s.begin("k", 1).await, Ok(Begin::Replay(_))));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(matches!(s.begin("k", 1).await, Ok(Begin::Execute)));
        assert_eq!(s.usage(), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn bounded_by_entries_and_size() {
        let s = InMemoryIdempotency::new(Duration::from_secs(60), 2, 40);
        for k in ["a", "b", "c"] {
            assert!(matches!(s.begin(k, 1).await, Ok(Begin::Execute)));
            s.complete(k, resp("{}")).await;
        }
        assert_eq!(s.usage().0, 2);
        assert!(
            matches!(s.begin("a", 1).await, Ok(Begin::Execute)),
            "oldest evicted"
        );
        let big = resp(&"x".repeat(100));
        assert!(matches!(s.begin("big", 1).await, Ok(Begin::Execute)));
        s.complete("big", big).await;
        assert!(
            matches!(s.begin("big", 1).await, Ok(Begin::Execute)),
            "too large to keep"
        );
    }
}
