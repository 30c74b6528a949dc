//! Owns the attempt loop: trying a decision's routes in order, classifying
//! each outcome, moving on only when the outcome allows it, and committing a
//! stream once its first event is in hand (after which failover stops and a
//! failure becomes an explicit error event).
//!
//! Route health (breakers, cooldowns, slow start), the retry budget,
//! backoff, deadlines, at-most-once and stickiness live here; the gateway
//! only sees [`dispatch`] with its [`Plan`], [`Served`] and [`Failure`].

mod attempt;
mod budget;
mod health;
mod order;
#[cfg(test)]
mod scripted;
mod stream;
mod target;
mod upstream;

pub use attempt::{
    CANNOT_CARRY, Failure, Plan, Rejection, Served, ServedBody, StopReason, dispatch,
};
pub use budget::RetryBudget;
pub use health::{Admission, BreakerState, HealthView, ProbeResult, RouteHealth};
pub use order::{Skipped, StickyInput, fnv1a};
pub use stream::{CommittedStream, StreamEnd, StreamOutcome};
pub use target::RouteTarget;
pub use upstream::{Answer, BoxFuture, Upstream};
