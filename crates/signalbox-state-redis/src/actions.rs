//! Operator actions shared through Redis. Each action is one key,
//! `{prefix}action:{id}` holding its JSON, set with `PX` until its expiry
//! when it has a TTL (Redis drops it by itself), plus a member in the index
//! set `{prefix}actions`. Routing never waits on Redis: it reads a local
//! [`ActiveActions`] snapshot, which this replica's own writes update at
//! once and a background task replaces every refresh interval (default
//! 500 ms) with what Redis holds (one script over the index, no keyspace
//! scan). Another replica's action is seen within one refresh interval plus
//! one round trip; expiry is also enforced on read, so an expired action
//! stops applying on time even between refreshes.
//!
//! When Redis is unreachable, creating, reverting and listing fail with a
//! [`StateError`] (the admin API answers 503) and routing keeps its last view.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::Script;
use signalbox_core::operator::OperatorAction;
use signalbox_state::{ActionStore, ActiveActions, BoxFuture, StateError, unix_ms};

use crate::RedisConn;

/// KEYS: the action, the index. ARGV: the id. Returns the action's JSON,
/// if it was there, and removes it: a revert happens once.
const TAKE: &str = r"
local v = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return v
";

/// The Redis operator-action store (see the module docs).
#[derive(Debug)]
pub struct RedisActions {
    keys: Keys,
    view: Arc<ActiveActions>,
    take: Script,
}

/// The connection and the keys every call uses.
#[derive(Debug, Clone)]
struct Keys {
    conn: RedisConn,
    index: String,
    entry_prefix: String,
    snapshot: Arc<Script>,
}

impl Keys {
    fn entry(&self, id: &str) -> String {
        format!("{}{id}", self.entry_prefix)
    }

    /// Every action Redis holds (expired keys are gone; the index is
    /// cleaned as it is read).
    async fn read_all(&self) -> Result<Vec<OperatorAction>, StateError> {
        let mut inv = self.snapshot.key(&self.index);
        inv.arg(&self.entry_prefix);
        let flat: Vec<String> = self.conn.script(&inv).await?;
        Ok(flat
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [_, value] => serde_json::from_str(value).ok(),
                _ => None,
            })
            .collect())
    }
}

impl RedisActions {
    /// A store refreshed from Redis every `refresh`; spawns its background
    /// task (which ends once nothing holds the store's view). Must run
    /// inside a Tokio runtime.
    pub fn new(conn: RedisConn, refresh: Duration) -> Result<Self, StateError> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| StateError("redis actions: no Tokio runtime".into()))?;
        let keys = Keys {
            index: conn.key("actions"),
            entry_prefix: conn.key("action:"),
            conn,
            snapshot: Arc::new(Script::new(crate::INDEX_SNAPSHOT)),
        };
        let view = Arc::new(ActiveActions::default());
        rt.spawn(refresh_loop(keys.clone(), Arc::downgrade(&view), refresh));
        Ok(Self {
            keys,
            view,
            take: Script::new(TAKE),
        })
    }

    /// Applies one change to the local view at once (the refresh confirms it).
    fn update(&self, change: impl FnOnce(&mut Vec<OperatorAction>)) {
        let mut actions: Vec<OperatorAction> =
            self.view.load().active(unix_ms()).cloned().collect();
        change(&mut actions);
        self.view.replace(actions);
    }
}

async fn refresh_loop(keys: Keys, view: Weak<ActiveActions>, refresh: Duration) {
    let mut tick = tokio::time::interval(refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = keys.read_all().await;
        let Some(view) = view.upgrade() else { return };
        match result {
            Ok(actions) => view.replace(actions),
            Err(e) => {
                tracing::debug!(error = %e, "Operator action refresh failed; keeping the local view.")
            }
        }
    }
}

impl ActionStore for RedisActions {
    fn create(&self, action: OperatorAction) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            let value = serde_json::to_string(&action)
                .map_err(|e| StateError(format!("operator action record: {e}")))?;
            let mut set = redis::cmd("SET");
            set.arg(self.keys.entry(&action.id)).arg(value);
            if let Some(expires) = action.expires_ms {
                let ttl = expires.saturating_sub(unix_ms());
                if ttl == 0 {
                    return Ok(());
                }
                set.arg("PX").arg(ttl);
            }
            let mut pipe = redis::pipe();
            pipe.atomic()
                .add_command(set)
                .ignore()
                .cmd("SADD")
                .arg(&self.keys.index)
                .arg(&action.id)
                .ignore();
            self.keys.conn.pipe(&pipe).await?;
            self.update(|all| {
                all.retain(|a| a.id != action.id);
                all.push(action);
            });
            Ok(())
        })
    }

    fn revert<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OperatorAction>, StateError>> {
        Box::pin(async move {
            let mut inv = self.take.key(self.keys.entry(id));
            inv.key(&self.keys.index).arg(id);
            let taken: Option<String> = self.keys.conn.script(&inv).await?;
            self.update(|all| all.retain(|a| a.id != id));
            Ok(taken
                .and_then(|v| serde_json::from_str::<OperatorAction>(&v).ok())
                .filter(|a| a.active_at(unix_ms())))
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<OperatorAction>, StateError>> {
        Box::pin(async move {
            let all = self.keys.read_all().await?;
            self.view.replace(all.clone());
            let now = unix_ms();
            Ok(all.into_iter().filter(|a| a.active_at(now)).collect())
        })
    }

    fn snapshot(&self) -> Arc<ActiveActions> {
        Arc::clone(&self.view)
    }
}
