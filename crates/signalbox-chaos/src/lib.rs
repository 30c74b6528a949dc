//! Owns `signalbox chaos`: scenario files ([`Scenario`]: mock upstreams, a
//! gateway policy, a fault timeline, a load profile and invariants), the
//! runner that starts the mocks and the real gateway in-process on
//! 127.0.0.1 port 0, drives the load while applying the timeline and
//! collects what happened ([`Facts`]), the invariant checks
//! ([`invariants::check`]) and the report. See `docs/chaos.md`.

pub mod facts;
pub mod invariants;
mod load;
mod observe;
mod redis;
pub mod report;
mod run;
pub mod scenario;
mod setup;
mod shipped;

pub use facts::Facts;
pub use report::{ScenarioReport, table};
pub use run::{RunError, RunOptions, run};
pub use scenario::{Invariant, Scenario, ScenarioErrors};
pub use setup::SetupError;
pub use shipped::{SHIPPED, Shipped};
/// What cuts a run short ([`RunOptions::interrupt`]).
pub use tokio_util::sync::CancellationToken;
