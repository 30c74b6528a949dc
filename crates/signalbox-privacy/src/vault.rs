//! Owns where a session's tokens live between requests: the `TokenVault`
//! trait and its in-process implementation.
//!
//! The trait is asynchronous (boxed futures, so it stays object-safe behind
//! `Arc<dyn TokenVault>`) because the shared implementation will be Redis:
//! a request makes exactly two calls, `load` before protecting and `store`
//! after, each moving a whole session's small map (one `HGETALL`, one
//! `HSET` + `EXPIRE`). Detection, tokenisation and restore stay synchronous
//! and work on the loaded `TokenTable`, so the hot path never waits on I/O
//! per finding. The boxing costs one allocation per call, which is noise
//! next to a network hop and negligible in-process.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::VaultError;
use crate::token::{TokenEntry, TokenTable};

/// Whose tokens: one tenant's session (a conversation id, or the request id
/// when the caller gives none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VaultScope {
    /// The tenant id.
    pub tenant: String,
    /// The session id within the tenant.
    pub session: String,
}

/// A boxed, sendable future returned by vault operations.
pub type VaultFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, VaultError>> + Send + 'a>>;

/// Per-tenant token storage with expiry.
pub trait TokenVault: Send + Sync {
    /// All live tokens of a session (empty when unknown or expired).
    fn load<'a>(&'a self, scope: &'a VaultScope) -> VaultFuture<'a, Vec<TokenEntry>>;

    /// Adds tokens to a session and renews its expiry.
    fn store<'a>(&'a self, scope: &'a VaultScope, entries: Vec<TokenEntry>) -> VaultFuture<'a, ()>;
}

/// Loads a session into a table ready for `protect_chat_request`.
pub async fn load_table(
    vault: &dyn TokenVault,
    scope: &VaultScope,
) -> Result<TokenTable, VaultError> {
    Ok(TokenTable::from_entries(vault.load(scope).await?))
}

/// Stores the tokens the table created since it was loaded (no call when none).
pub async fn store_fresh(
    vault: &dyn TokenVault,
    scope: &VaultScope,
    table: &mut TokenTable,
) -> Result<(), VaultError> {
    let fresh = table.take_fresh();
    if fresh.is_empty() {
        return Ok(());
    }
    vault.store(scope, fresh).await
}

/// A source of `Instant`s, replaceable in tests.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The in-process vault: a map of sessions behind a `parking_lot` mutex,
/// each expiring `ttl` after its last store. Expired sessions are dropped
/// when touched and by a sweep at most once per `ttl`.
pub struct InMemoryVault {
    ttl: Duration,
    clock: Clock,
    state: Mutex<State>,
}

struct State {
    sessions: HashMap<VaultScope, Session>,
    next_sweep: Instant,
}

struct Session {
    tokens: HashMap<String, String>,
    expires: Instant,
}

impl std::fmt::Debug for InMemoryVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryVault")
            .field("ttl", &self.ttl)
            .field("sessions", &self.state.lock().sessions.len())
            .finish_non_exhaustive()
    }
}

impl InMemoryVault {
    /// A vault whose sessions live `ttl` after their last store.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self::with_clock(ttl, Arc::new(system_instant))
    }

    /// Same, reading time from `clock`.
    #[must_use]
    pub fn with_clock(ttl: Duration, clock: Clock) -> Self {
        let now = clock();
        Self {
            ttl,
            clock,
            state: Mutex::new(State {
                sessions: HashMap::new(),
                next_sweep: now + ttl,
            }),
        }
    }

    /// Live sessions (expired ones may linger until the next sweep).
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.state.lock().sessions.len()
    }

    fn load_now(&self, scope: &VaultScope) -> Vec<TokenEntry> {
        let now = (self.clock)();
        let mut state = self.state.lock();
        match state.sessions.get(scope) {
            Some(session) if session.expires > now => session
                .tokens
                .iter()
                .map(|(token, value)| TokenEntry {
                    token: token.clone(),
                    value: value.clone(),
                })
                .collect(),
            Some(_) => {
                state.sessions.remove(scope);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn store_now(&self, scope: &VaultScope, entries: Vec<TokenEntry>) {
        let now = (self.clock)();
        let expires = now + self.ttl;
        let mut state = self.state.lock();
        if now >= state.next_sweep {
            state.sessions.retain(|_, s| s.expires > now);
            state.next_sweep = now + self.ttl;
        }
        let session = state
            .sessions
            .entry(scope.clone())
            .or_insert_with(|| Session {
                tokens: HashMap::new(),
                expires,
            });
        if session.expires <= now {
            session.tokens.clear();
        }
        session.expires = expires;
        session.tokens.extend(
            entries
                .into_iter()
                .map(|TokenEntry { token, value }| (token, value)),
        );
    }
}

impl TokenVault for InMemoryVault {
    fn load<'a>(&'a self, scope: &'a VaultScope) -> VaultFuture<'a, Vec<TokenEntry>> {
        let entries = self.load_now(scope);
        Box::pin(std::future::ready(Ok(entries)))
    }

    fn store<'a>(&'a self, scope: &'a VaultScope, entries: Vec<TokenEntry>) -> VaultFuture<'a, ()> {
        self.store_now(scope, entries);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The vault's default clock. Tests give theirs to [`InMemoryVault::with_clock`]
/// (this crate does not depend on tokio's pausable clock).
#[expect(
    clippy::disallowed_methods,
    reason = "the default of the injectable vault clock"
)]
fn system_instant() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests;
