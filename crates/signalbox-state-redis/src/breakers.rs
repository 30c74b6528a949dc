//! Open circuits shared through Redis. Reads stay synchronous, in memory and
//! lock-free: each store keeps a local [`OpenCircuits`] snapshot, and a
//! background task
//!
//! - publishes this replica's changes (queued by the synchronous
//!   `publish_*` methods on a channel): an open circuit is
//!   `SET {prefix}breaker:{route} … PX <until the open deadline>` plus a
//!   member in the index set `{prefix}breakers`; a close is `DEL` + `SREM`;
//! - every refresh interval (default 500 ms) replaces the local snapshot
//!   with what Redis holds, read by one script over the index (no keyspace scan).
//!
//! Staleness bound: another replica's open or close is seen within one
//! refresh interval plus one Redis round trip (bounded by the operation
//! timeout). Own publishes are visible locally at once. When Redis is
//! unreachable the local view is kept (entries still expire by their
//! deadline) and the failed publish is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};
use signalbox_state::{BreakerStore, OpenCircuits, SharedBreaker, StateError, unix_ms};
use tokio::sync::mpsc;

use crate::RedisConn;

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    replica: u64,
    until: u64,
    reason: String,
}

#[derive(Debug)]
enum Change {
    Open(String, SharedBreaker),
    Closed(String),
}

type Routes = Arc<OpenCircuits>;

/// The Redis breaker store (see the module docs for the staleness bound).
#[derive(Debug)]
pub struct RedisBreakers {
    routes: Routes,
    changes: mpsc::UnboundedSender<Change>,
}

impl RedisBreakers {
    /// A store refreshed from Redis every `refresh`; spawns its background
    /// task (ends when the store is dropped). Must run inside a Tokio runtime.
    pub fn new(conn: RedisConn, refresh: Duration) -> Result<Self, StateError> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| StateError("redis breakers: no Tokio runtime".into()))?;
        let routes = Routes::default();
        let (changes, rx) = mpsc::unbounded_channel();
        rt.spawn(run(conn, Arc::clone(&routes), rx, refresh));
        Ok(Self { routes, changes })
    }
}

async fn run(
    conn: RedisConn,
    routes: Routes,
    mut rx: mpsc::UnboundedReceiver<Change>,
    refresh: Duration,
) {
    let index = conn.key("breakers");
    let entry_prefix = conn.key("breaker:");
    let snapshot = Script::new(crate::INDEX_SNAPSHOT);
    let mut tick = tokio::time::interval(refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            change = rx.recv() => {
                let Some(change) = change else { return };
                if let Err(e) = publish(&conn, &index, &entry_prefix, change).await {
                    tracing::warn!(error = %e, "breaker state not published to redis");
                }
            }
            _ = tick.tick() => {
                let mut inv = snapshot.key(&index);
                inv.arg(&entry_prefix);
                match conn.script::<Vec<String>>(&inv).await {
                    Ok(flat) => {
                        let mut map = HashMap::new();
                        for pair in flat.chunks_exact(2) {
                            if let [route, value] = pair
                                && let Ok(w) = serde_json::from_str::<Wire>(value)
                            {
                                map.insert(route.clone(), SharedBreaker {
                                    replica: w.replica,
                                    open_until_ms: w.until,
                                    reason: w.reason,
                                });
                            }
                        }
                        routes.replace(map);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "breaker refresh failed; keeping the local view");
                    }
                }
            }
        }
    }
}

async fn publish(
    conn: &RedisConn,
    index: &str,
    entry_prefix: &str,
    change: Change,
) -> Result<(), StateError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    match change {
        Change::Open(route, state) => {
            let ttl = state.open_until_ms.saturating_sub(unix_ms());
            if ttl == 0 {
                return Ok(());
            }
            let value = serde_json::to_string(&Wire {
                replica: state.replica,
                until: state.open_until_ms,
                reason: state.reason,
            })
            .map_err(|e| StateError(format!("breaker record: {e}")))?;
            pipe.cmd("SET")
                .arg(format!("{entry_prefix}{route}"))
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .ignore()
                .cmd("SADD")
                .arg(index)
                .arg(&route)
                .ignore();
        }
        Change::Closed(route) => {
            pipe.cmd("DEL")
                .arg(format!("{entry_prefix}{route}"))
                .ignore()
                .cmd("SREM")
                .arg(index)
                .arg(&route)
                .ignore();
        }
    }
    conn.pipe(&pipe).await
}

impl BreakerStore for RedisBreakers {
    fn publish_open(&self, route: &str, state: SharedBreaker) {
        self.routes.update(|m| {
            m.insert(route.to_owned(), state.clone());
        });
        let _ = self.changes.send(Change::Open(route.to_owned(), state));
    }

    fn publish_closed(&self, route: &str) {
        self.routes.update(|m| {
            m.remove(route);
        });
        let _ = self.changes.send(Change::Closed(route.to_owned()));
    }

    fn snapshot(&self) -> Arc<OpenCircuits> {
        Arc::clone(&self.routes)
    }
}
