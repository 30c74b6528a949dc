//! Owns the state that must agree across gateway replicas — idempotency
//! records, tenant limits, tenant spend, open circuits, operator actions,
//! quality gates, quality scores, canary rollouts (and the counts their
//! steps are judged on) and shadow budgets — behind traits with an in-process
//! implementation (the default; Redis ones live in `signalbox-state-redis`), plus the
//! per-replica pieces that need no sharing: session affinity memory, the
//! fair per-route queue, and the rate limit on repeated warnings.
//!
//! The traits return boxed futures so a networked store fits behind the
//! same object; the in-process implementations complete immediately and
//! never hold a lock across an await.

mod actions;
mod affinity;
mod breakers;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
mod fair;
mod idempotency;
mod limits;
mod quality;
mod rate;
mod rollout;
mod scores;
mod shadow;
mod spend;
mod warn;

pub use actions::{ActionSet, ActionStore, ActiveActions, InMemoryActions};
pub use affinity::AffinityMemory;
pub use breakers::{
    BreakerStore, InMemoryBreakers, OpenCircuits, SharedBreaker, open_elsewhere_in, unix_ms,
};
pub use fair::{FairGate, GateError, GatePermit};
pub use idempotency::{Begin, IdempotencyStore, InMemoryIdempotency, StoredResponse, Waiter};
pub use limits::{InMemoryLimits, LimitExceeded, LimitPermit, LimitStore, Limits};
pub use quality::{InMemoryQuality, QualityMark, QualityMarks, QualityStore};
pub use rate::RateGate;
pub use rollout::{
    Advance, CanaryStore, InMemoryCanaries, RolloutPhase, RolloutStep, StepCounts, StepKind,
};
pub use scores::{InMemoryScores, MAX_ROWS, RETAIN_WINDOWS, ScoreKey, ScoreStore, ScoreTally};
pub use shadow::{InMemoryShadowBudgets, ShadowBudgetStore};
pub use spend::{
    BudgetExceeded, InMemorySpend, MICROS_PER_USD, Period, SpendStore, check_budget, usd_to_micros,
};
pub use warn::{RateLimitedWarn, WARN_EVERY};

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (what the store traits return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A shared-state backend failed (never for the in-process stores).
#[derive(Debug, Clone, thiserror::Error)]
#[error("state store unavailable: {0}")]
pub struct StateError(pub String);
