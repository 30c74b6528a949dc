//! Owns the attempt loop: trying a decision's routes in order, classifying
//! each outcome, moving on only when the outcome allows it, and committing a
//! stream once its first event is in hand (after which failover stops and a
//! failure becomes an explicit error event).
//!
//! Breakers, retry budgets, backoff and degradation steps plug in here; the
//! gateway only sees [`dispatch`], [`Served`] and [`Failure`].

mod attempt;
mod health;
mod stream;
mod target;

pub use attempt::{Failure, Rejection, Served, ServedBody, dispatch};
pub use health::RouteHealth;
pub use stream::{CommittedStream, StreamEnd, StreamOutcome};
pub use target::RouteTarget;
