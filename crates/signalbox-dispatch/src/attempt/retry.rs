//! Owns what a failed attempt earns: a same-route retry by its outcome
//! class (`retry-on`) and the wait before it, whether the next attempt
//! spends the retry budget, where a context overflow may go next (only
//! routes with a larger window), and when a shut route admits again (the
//! caller's `retry-after`).

use signalbox_config::{RetryClass, RetryPolicy};
use signalbox_core::{OutcomeClass, SkipKind};
use tokio::time::Duration;

use super::{Rejection, Run};
use crate::order;
use crate::route::{Route, RouteTable};
use signalbox_core::RouteIdx;

/// A context overflow reported by a provider.
pub(super) struct Overflow {
    /// The window the prompt did not fit (`None`: undeclared, so no other
    /// route is known to be larger).
    pub(super) window: Option<u32>,
    /// The provider's rejection, returned when no larger route serves.
    pub(super) rejection: Rejection,
}

impl<X: Sync> Run<'_, '_, X> {
    /// After a context overflow: whether `target`'s window is no larger
    /// than the one overflowed (skipped and recorded; sending the same
    /// prompt there would only be refused again).
    pub(super) fn too_small(&mut self, target: &Route<X>) -> bool {
        let Some(overflow) = &self.overflow else {
            return false;
        };
        let window = target.settings.context_window;
        let larger = matches!((window, overflow.window), (Some(w), Some(o)) if w > o);
        if !larger {
            let why = format!(
                "context window {} is not larger than the {} a provider said the prompt overflowed",
                window.map_or_else(|| "(undeclared)".to_owned(), |w| w.to_string()),
                overflow
                    .window
                    .map_or_else(|| "(undeclared)".to_owned(), |w| w.to_string()),
            );
            self.skip(target, SkipKind::ContextWindow, why);
        }
        !larger
    }

    /// Whether an attempt on `target` now is a retry the budget pays for:
    /// not the request's first, and either on a route it already tried or
    /// on one that is failing (its last outcome a failure).
    pub(super) fn spends_budget(&self, target: &Route<X>) -> bool {
        !self.attempts.is_empty()
            && (self.attempts.iter().any(|a| a.route == target.id)
                || target.health.consecutive_failures() > 0)
    }
}

/// The `retry-on` class an outcome falls in; `None` for outcomes never
/// retried on the same route.
pub(super) fn retry_class(class: OutcomeClass) -> Option<RetryClass> {
    match class {
        OutcomeClass::Connect => Some(RetryClass::ConnectError),
        OutcomeClass::ServerError => Some(RetryClass::ServerError),
        OutcomeClass::RateLimited => Some(RetryClass::RateLimited),
        OutcomeClass::BadResponse => Some(RetryClass::BadResponse),
        OutcomeClass::Timeout => Some(RetryClass::Timeout),
        OutcomeClass::Success
        | OutcomeClass::AuthRejected
        | OutcomeClass::RequestRejected
        | OutcomeClass::StreamCut => None,
    }
}

/// The wait before same-route retry number `n` (1-based): exponential with
/// full jitter drawn from the request's seed, or the provider's
/// `retry-after` when that is within `backoff-max` (`None` when it is not).
pub(super) fn backoff(
    policy: &RetryPolicy,
    seed: u64,
    n: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    if let Some(ra) = retry_after {
        return (ra <= policy.backoff_max).then_some(ra);
    }
    let exp = policy
        .backoff_base
        .saturating_mul(1u32 << (n.saturating_sub(1)).min(16))
        .min(policy.backoff_max);
    let jitter = order::unit(order::splitmix(seed ^ u64::from(n)));
    Some(exp.mul_f64(jitter))
}

/// The earliest moment one of `candidates` admits requests again, when
/// every one is shut for a known time; `None` when any is shut for an
/// unknown time or open (skipped for another reason, which waiting does
/// not cure).
pub(super) fn earliest_available<X>(
    routes: &RouteTable<X>,
    candidates: &[RouteIdx],
) -> Option<Duration> {
    let mut earliest: Option<Duration> = None;
    for &idx in candidates {
        let wait = routes.get(idx)?.health.available_in()?;
        earliest = Some(earliest.map_or(wait, |e| e.min(wait)));
    }
    earliest
}
