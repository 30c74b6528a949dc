//! Quality marks shared through Redis. Reads stay synchronous, in memory
//! and lock-free: each store keeps a local [`QualityMarks`] snapshot, and a
//! background task
//!
//! - publishes this replica's marks (queued by the synchronous `publish`):
//!   a mark is `SET {prefix}quality:{replica}:{route} … PX <until it
//!   expires>` plus a member in the index set `{prefix}quality`; a clear
//!   mark is `DEL` + `SREM`; a mark for one intent is kept beside them,
//!   `{prefix}quality:{replica}@{intent length}:{intent}:{route}`, its value
//!   `[route, mark, intent]` (a replica that predates intent marks fails
//!   to read that as a route's mark and skips it);
//! - every refresh interval (default 500 ms) replaces the local snapshot
//!   with what Redis holds, read by one script over the index (no keyspace
//!   scan).
//!
//! Another replica's mark is seen within one refresh interval plus one
//! round trip; own marks at once. When Redis is unreachable the local view
//! is kept (marks still expire by their deadline) and a failed publish is
//! dropped, counted ([`RedisQuality::failures`]) and warned about (rate
//! limited): the replica's next quality run publishes again.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use signalbox_state::{QualityMark, QualityMarks, QualityStore, StateError, unix_ms};
use tokio::sync::mpsc;

use crate::RedisConn;

/// The Redis quality-mark store (see the module docs).
#[derive(Debug)]
pub struct RedisQuality {
    marks: Arc<QualityMarks>,
    changes: mpsc::UnboundedSender<(String, QualityMark)>,
    failures: Arc<AtomicU64>,
}

impl RedisQuality {
    /// A store refreshed from Redis every `refresh`; spawns its background
    /// task (ends when the store is dropped). Must run inside a Tokio runtime.
    pub fn new(conn: RedisConn, refresh: Duration) -> Result<Self, StateError> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| StateError("redis quality marks: no Tokio runtime".into()))?;
        let marks = Arc::new(QualityMarks::default());
        let failures = Arc::new(AtomicU64::new(0));
        let (changes, rx) = mpsc::unbounded_channel();
        let task = Task {
            index: conn.key("quality"),
            entry_prefix: conn.key("quality:"),
            conn,
            marks: Arc::clone(&marks),
            failures: Arc::clone(&failures),
        };
        rt.spawn(task.run(rx, refresh));
        Ok(Self {
            marks,
            changes,
            failures,
        })
    }

    /// Publishes and refreshes that failed since the store was made (Redis
    /// unreachable): the local view was used instead.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

struct Task {
    conn: RedisConn,
    index: String,
    entry_prefix: String,
    marks: Arc<QualityMarks>,
    failures: Arc<AtomicU64>,
}

impl Task {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<(String, QualityMark)>, refresh: Duration) {
        let snapshot = Script::new(crate::INDEX_SNAPSHOT);
        let warning = crate::FailOpenWarning::new(
            "Quality marks not shared through redis; this replica keeps its local view.",
        );
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                biased;
                change = rx.recv() => {
                    let Some((route, mark)) = change else { return };
                    self.publish(&route, mark).await
                }
                _ = tick.tick() => self.refresh(&snapshot).await,
            };
            if let Err(e) = result {
                self.failures.fetch_add(1, Ordering::Relaxed);
                warning.warn(&e);
            }
        }
    }

    async fn publish(&self, route: &str, mark: QualityMark) -> Result<(), StateError> {
        // The replica leads the member: it is a number, so the first `:`
        // (or `@`, for an intent's mark, its length then saying where the
        // intent ends) ends it whatever the route id and intent hold.
        let member = match &mark.intent {
            None => format!("{}:{route}", mark.replica),
            Some(i) => format!("{}@{}:{i}:{route}", mark.replica, i.len()),
        };
        let key = format!("{}{member}", self.entry_prefix);
        let mut pipe = redis::pipe();
        pipe.atomic();
        let ttl = mark.expires_ms.saturating_sub(unix_ms());
        if mark.is_clear() || ttl == 0 {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("SREM").arg(&self.index).arg(&member).ignore();
        } else {
            let value = match &mark.intent {
                None => serde_json::to_string(&(route, &mark)),
                Some(i) => serde_json::to_string(&(route, &mark, i)),
            }
            .map_err(|e| StateError(format!("quality mark: {e}")))?;
            pipe.cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .ignore();
            pipe.cmd("SADD").arg(&self.index).arg(&member).ignore();
        }
        self.conn.pipe(&pipe).await
    }

    async fn refresh(&self, snapshot: &Script) -> Result<(), StateError> {
        let mut inv = snapshot.key(&self.index);
        inv.arg(&self.entry_prefix);
        let flat: Vec<String> = self.conn.script(&inv).await?;
        let mut map: HashMap<String, Vec<QualityMark>> = HashMap::new();
        for pair in flat.chunks_exact(2) {
            if let [_, value] = pair
                && let Ok(entry) = serde_json::from_str::<Entry>(value)
            {
                let (route, mark) = entry.into_mark();
                map.entry(route).or_default().push(mark);
            }
        }
        self.marks.replace(map);
        Ok(())
    }
}

/// A stored mark: a route's, or one intent's (see the module docs).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Entry {
    Intent(String, QualityMark, String),
    Route(String, QualityMark),
}

impl Entry {
    fn into_mark(self) -> (String, QualityMark) {
        match self {
            Self::Route(route, mark) => (route, mark),
            Self::Intent(route, mark, intent) => (
                route,
                QualityMark {
                    intent: Some(intent),
                    ..mark
                },
            ),
        }
    }
}

impl QualityStore for RedisQuality {
    fn publish(&self, route: &str, mark: QualityMark) {
        self.marks.apply(route, &mark);
        let _ = self.changes.send((route.to_owned(), mark));
    }

    fn snapshot(&self) -> Arc<QualityMarks> {
        Arc::clone(&self.marks)
    }

    fn failures(&self) -> u64 {
        RedisQuality::failures(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(intent: Option<&str>) -> QualityMark {
        QualityMark {
            replica: 7,
            disabled: Some("down".into()),
            warning: None,
            expires_ms: 1,
            intent: intent.map(str::to_owned),
        }
    }

    #[test]
    fn an_intent_mark_reads_back_with_its_intent_and_not_as_a_route_mark() {
        let route = serde_json::to_string(&("r", mark(None))).unwrap_or_default();
        let m = mark(Some("weather"));
        let scoped = serde_json::to_string(&("r", &m, "weather")).unwrap_or_default();
        let read = |v: &str| serde_json::from_str::<Entry>(v).ok().map(Entry::into_mark);
        assert_eq!(read(&route), Some(("r".to_owned(), mark(None))));
        assert_eq!(read(&scoped), Some(("r".to_owned(), m)));
        assert!(
            serde_json::from_str::<(String, QualityMark)>(&scoped).is_err(),
            "a replica predating intent marks skips them"
        );
    }
}
