//! Owns the routing decision: from the request's signals (tenant, headers,
//! body) and a read-only policy snapshot to an ordered list of routes that
//! satisfy every hard constraint, ranked by the policy's objectives, with the
//! evidence to explain it.
//!
//! Everything here is synchronous and does no I/O: `authenticate` →
//! `extract` (signals) → `decide`. The gateway calls these in order; tests,
//! `signalbox simulate` and `signalbox test-policy` call them directly.

mod constraints;
mod decide;
mod error;
mod rank;
mod rules;
pub mod signals;
mod snapshot;
pub mod tokens;

pub use constraints::DEFAULT_OUTPUT_ESTIMATE;
pub use decide::{Decision, Trace, decide};
pub use error::PolicyError;
pub use rank::{NoObservations, Observations};
pub use signals::{Signals, authenticate, extract};
pub use snapshot::PolicySnapshot;

#[cfg(test)]
mod tests;
