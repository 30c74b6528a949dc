//! Shadow-traffic budgets shared across replicas: a shadow rule's
//! `requests-per-hour` and `cost-per-hour-usd` hold for the deployment,
//! not per replica. An hour is a clock hour (hours since the Unix epoch),
//! so every replica counts in the same window. Shadow calls run off the
//! request path, so taking from the budget may wait on a networked store.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::{BoxFuture, StateError};

/// One hour's use of a rule's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Used {
    hour: u64,
    requests: u64,
    cost_micros: u64,
}

/// Where shadow budgets are counted.
pub trait ShadowBudgetStore: Send + Sync + std::fmt::Debug {
    /// Takes one request from `rule`'s budget for `hour`: `false` (nothing
    /// taken) when the hour's `max_requests` are taken or its spend reached
    /// `max_cost_micros`.
    fn take<'a>(
        &'a self,
        rule: &'a str,
        hour: u64,
        max_requests: u64,
        max_cost_micros: Option<u64>,
    ) -> BoxFuture<'a, Result<bool, StateError>>;
    /// Adds a shadow answer's cost to `rule`'s spend for `hour`.
    fn spend<'a>(
        &'a self,
        rule: &'a str,
        hour: u64,
        cost_micros: u64,
    ) -> BoxFuture<'a, Result<(), StateError>>;
}

/// The in-process store (the current hour per rule).
#[derive(Debug, Default)]
pub struct InMemoryShadowBudgets {
    rules: Mutex<HashMap<String, Used>>,
}

impl InMemoryShadowBudgets {
    /// Runs `f` on the rule's use of `hour`; `None` for an hour already
    /// past (a late spend: its hour's budget no longer matters).
    fn with<T>(&self, rule: &str, hour: u64, f: impl FnOnce(&mut Used) -> T) -> Option<T> {
        let mut all = self.rules.lock();
        let used = all.entry(rule.to_owned()).or_default();
        if used.hour < hour {
            *used = Used {
                hour,
                ..Used::default()
            };
        }
        (used.hour == hour).then(|| f(used))
    }
}

impl ShadowBudgetStore for InMemoryShadowBudgets {
    fn take<'a>(
        &'a self,
        rule: &'a str,
        hour: u64,
        max_requests: u64,
        max_cost_micros: Option<u64>,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        let taken = self
            .with(rule, hour, |u| {
                let spent = max_cost_micros.is_some_and(|max| u.cost_micros >= max);
                if u.requests >= max_requests || spent {
                    return false;
                }
                u.requests += 1;
                true
            })
            .unwrap_or(false);
        Box::pin(std::future::ready(Ok(taken)))
    }

    fn spend<'a>(
        &'a self,
        rule: &'a str,
        hour: u64,
        cost_micros: u64,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.with(rule, hour, |u| {
            u.cost_micros = u.cost_micros.saturating_add(cost_micros);
        });
        Box::pin(std::future::ready(Ok(())))
    }
}
