//! Operator actions shared across replicas: an operator drains a route (or
//! throttles a tenant, pins an alias…) through any replica's admin API and
//! every replica sharing the store applies it. They live here, not in the
//! configuration, so a reload keeps them.
//!
//! Routing reads them on every request, so a store keeps its view in an
//! [`ActiveActions`] snapshot, as the breaker store does: replaced as a
//! whole when the store changes (a write here, a background refresh for
//! Redis), read with one lock-free load, and answered without a scan while
//! no action is in force (the common case). Expiry is enforced on read:
//! every query takes the current time and ignores an action past its
//! `expires_ms`, whatever the store has not yet dropped.

use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use signalbox_core::operator::{Action, OperatorAction, Target};

use crate::{BoxFuture, StateError};

/// Where operator actions are kept.
pub trait ActionStore: Send + Sync + std::fmt::Debug {
    /// Puts `action` in force (its id is new).
    fn create(&self, action: OperatorAction) -> BoxFuture<'_, Result<(), StateError>>;
    /// Takes the action `id` out of force; the action, or `None` when no
    /// action of that id is in force.
    fn revert<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OperatorAction>, StateError>>;
    /// The actions in force, read from the store itself (the admin API's
    /// answer; routing reads [`ActionStore::snapshot`]).
    fn list(&self) -> BoxFuture<'_, Result<Vec<OperatorAction>, StateError>>;
    /// The store's view, kept current by the store: what routing reads.
    fn snapshot(&self) -> Arc<ActiveActions>;
}

/// The actions a store last saw, swapped as a whole.
#[derive(Debug, Default)]
pub struct ActiveActions(ArcSwap<ActionSet>);

impl ActiveActions {
    /// The current set (a lock-free load).
    pub fn load(&self) -> Arc<ActionSet> {
        self.0.load_full()
    }

    /// The current set, borrowed for a moment (cheaper than [`Self::load`]:
    /// no reference count is taken; do not hold it across an await).
    pub fn guard(&self) -> arc_swap::Guard<Arc<ActionSet>> {
        self.0.load()
    }

    /// Replaces the set (a write, or a refresh from the shared store).
    pub fn replace(&self, actions: Vec<OperatorAction>) {
        self.0.store(Arc::new(ActionSet::new(actions)));
    }
}

/// A set of actions, oldest first, with the questions routing asks of it.
/// Every question takes the time, and only actions in force then answer;
/// when several answer, the newest wins.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ActionSet {
    actions: Vec<OperatorAction>,
}

impl ActionSet {
    /// `actions`, ordered oldest first.
    pub fn new(mut actions: Vec<OperatorAction>) -> Self {
        actions.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        Self { actions }
    }

    /// Whether the set holds no action at all (the fast path).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The actions in force at `now_ms`, oldest first.
    pub fn active(&self, now_ms: u64) -> impl Iterator<Item = &OperatorAction> {
        self.actions.iter().filter(move |a| a.active_at(now_ms))
    }

    /// The newest action in force at `now_ms` that `matches`.
    pub fn find(&self, now_ms: u64, matches: impl Fn(&Action) -> bool) -> Option<&OperatorAction> {
        if self.actions.is_empty() {
            return None;
        }
        self.actions
            .iter()
            .rev()
            .find(|a| a.active_at(now_ms) && matches(&a.action))
    }

    /// What keeps `route` from new requests: a drain or a forced-open
    /// breaker.
    pub fn blocks_route(&self, route: &str, now_ms: u64) -> Option<&OperatorAction> {
        self.find(now_ms, |a| match a {
            Action::Drain { route: r } | Action::ForceOpen { route: r } => r == route,
            _ => false,
        })
    }

    /// A forced-closed breaker on `route`.
    pub fn forced_closed(&self, route: &str, now_ms: u64) -> Option<&OperatorAction> {
        self.find(
            now_ms,
            |a| matches!(a, Action::ForceClose { route: r } if r == route),
        )
    }

    /// The route `alias` is pinned to, with the pin.
    pub fn pin(&self, alias: &str, now_ms: u64) -> Option<(&OperatorAction, &str)> {
        let pin = self.find(
            now_ms,
            |a| matches!(a, Action::Pin { alias: x, .. } if x == alias),
        )?;
        match &pin.action {
            Action::Pin { route, .. } => Some((pin, route.as_str())),
            _ => None,
        }
    }

    /// Tools disabled for `intent` or for `tenant`.
    pub fn tools_disabled(
        &self,
        intent: &str,
        tenant: &str,
        now_ms: u64,
    ) -> Option<&OperatorAction> {
        self.find(now_ms, |a| match a {
            Action::DisableTools { target } => names(target, None, Some(intent), Some(tenant)),
            _ => false,
        })
    }

    /// A fail-closed switch for `alias` or for `intent`.
    pub fn fail_closed(&self, alias: &str, intent: &str, now_ms: u64) -> Option<&OperatorAction> {
        self.find(now_ms, |a| match a {
            Action::FailClosed { target } => names(target, Some(alias), Some(intent), None),
            _ => false,
        })
    }

    /// Human escalation for `intent`.
    pub fn escalation(&self, intent: &str, now_ms: u64) -> Option<&OperatorAction> {
        self.find(
            now_ms,
            |a| matches!(a, Action::Escalate { intent: i } if i == intent),
        )
    }

    /// Every throttle in force on `target`, with its per-minute limits
    /// (requests, tokens).
    pub fn throttles<'a>(
        &'a self,
        target: &'a Target,
        now_ms: u64,
    ) -> impl Iterator<Item = (&'a OperatorAction, Option<u32>, Option<u32>)> + 'a {
        self.active(now_ms).filter_map(move |a| match &a.action {
            Action::Throttle {
                target: t,
                requests_per_minute,
                tokens_per_minute,
            } if t == target => Some((a, *requests_per_minute, *tokens_per_minute)),
            _ => None,
        })
    }
}

/// Whether `target` names the alias, intent or tenant given.
fn names(target: &Target, alias: Option<&str>, intent: Option<&str>, tenant: Option<&str>) -> bool {
    match target {
        Target::Alias(a) => alias == Some(a.as_str()),
        Target::Intent(i) => intent == Some(i.as_str()),
        Target::Tenant(t) => tenant == Some(t.as_str()),
        Target::Route(_) => false,
    }
}

/// The in-process store: shared by every gateway in the process given the
/// same instance.
#[derive(Debug, Default)]
pub struct InMemoryActions {
    actions: Mutex<Vec<OperatorAction>>,
    view: Arc<ActiveActions>,
}

impl InMemoryActions {
    /// Drops expired actions and publishes the rest to the view.
    fn publish(&self, actions: &mut Vec<OperatorAction>) {
        let now = crate::unix_ms();
        actions.retain(|a| a.active_at(now));
        self.view.replace(actions.clone());
    }
}

impl ActionStore for InMemoryActions {
    fn create(&self, action: OperatorAction) -> BoxFuture<'_, Result<(), StateError>> {
        let mut actions = self.actions.lock();
        actions.retain(|a| a.id != action.id);
        actions.push(action);
        self.publish(&mut actions);
        drop(actions);
        Box::pin(std::future::ready(Ok(())))
    }

    fn revert<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OperatorAction>, StateError>> {
        let mut actions = self.actions.lock();
        let now = crate::unix_ms();
        let found = actions
            .iter()
            .position(|a| a.id == id)
            .map(|i| actions.remove(i))
            .filter(|a| a.active_at(now));
        self.publish(&mut actions);
        drop(actions);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<OperatorAction>, StateError>> {
        let now = crate::unix_ms();
        let set = self.view.load();
        let list = set.active(now).cloned().collect();
        Box::pin(std::future::ready(Ok(list)))
    }

    fn snapshot(&self) -> Arc<ActiveActions> {
        Arc::clone(&self.view)
    }
}

#[cfg(test)]
mod tests;
