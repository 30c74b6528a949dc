//! Owns the attempt loop: trying a decision's routes in order, classifying
//! each outcome, moving on only when the outcome allows it, and committing a
//! stream once its first event is in hand (after which failover stops and a
//! failure becomes an explicit error event).
//!
//! Around it, the failover walk ([`run`]): rounds over the policy's
//! candidates, the declared degradation steps with the policy re-asked
//! after each, the posture floor, and each round's per-route bodies
//! (prepared by the caller through [`PrepareRound`]).
//!
//! Route health (breakers, cooldowns, slow start), the retry budget,
//! backoff, deadlines, at-most-once and stickiness live here, on the route
//! table ([`RouteTable`] of [`Route`]s). Providers are reached through the
//! [`Upstream`] trait; the gateway only sees [`run`] (or [`dispatch`] with
//! its [`Plan`]), [`Outcome`], [`Served`] and [`Failure`].

mod attempt;
mod budget;
mod failover;
mod health;
mod order;
mod route;
#[cfg(test)]
mod scripted;
mod stream;
mod upstream;

pub use attempt::{Failure, Plan, Rejection, Served, ServedBody, StopReason, dispatch};
pub use budget::RetryBudget;
pub use failover::{
    AsIs, Blocked, Decided, Eligible, Ended, Failover, Outcome, PrepareRound, RoundBodies,
    RoundRequest, run,
};
pub use health::{
    Admission, BreakerEvent, BreakerEvents, BreakerState, DEFAULT_WARN_WEIGHT, HealthView, Hold,
    ProbeResult, QualityGate, QualityTransition, RouteHealth,
};
pub use order::{Skipped, StickyInput, fnv1a};
pub use route::{Route, RouteTable};
pub use stream::{CommittedStream, Piece, StreamEnd, StreamOutcome};
pub use upstream::{Answer, BoxFuture, Upstream};
