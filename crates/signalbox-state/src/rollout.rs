//! Canary rollouts shared across replicas: the step a rollout is at, and
//! the last step taken with its evidence. Each replica measures its own
//! traffic and may decide a step (a promotion after a clean window, a
//! rollback on a regression); the step is taken through
//! [`CanaryStore::advance`], a compare-and-set on the rollout's generation,
//! so two replicas deciding at once make one step, not two (the loser
//! adopts the winner's), and a rollback on one replica is the rollback of
//! every replica. What a step is judged on is counted across replicas too
//! ([`CanaryStore::count`]): each replica adds what its traffic showed
//! since its last call to its own counters of the step, and reads every
//! replica's, so a step is promoted (or rolled back) on the deployment's
//! traffic, not one replica's share of it. No request waits on this store:
//! the request path reads each replica's own copy of the share and counts
//! into its own memory; a background task exchanges the counts.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::{BoxFuture, StateError};

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutPhase {
    /// At this step (an index into the configured steps).
    Stepping(usize),
    /// Promoted to 100 %.
    Completed,
    /// Rolled back to 0 %.
    RolledBack,
}

/// What kind of step was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// The rollout began at its first step.
    Started,
    /// A clean window: the next step.
    Promoted,
    /// A clean window at the last step below 100 %: done.
    Completed,
    /// A regression: back to 0 %.
    RolledBack,
}

impl StepKind {
    /// The step's name in metrics, reports and the audit trail.
    pub fn label(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Promoted => "promoted",
            Self::Completed => "completed",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// A rollout as the store keeps it: where it is and the step that put it there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutStep {
    /// 1 for the first step, one more for each step since.
    pub generation: u64,
    /// Where the rollout is now.
    pub phase: RolloutPhase,
    /// The step taken.
    pub kind: StepKind,
    /// The canary's share before and after, in basis points.
    pub from_bp: u32,
    /// See `from_bp`.
    pub to_bp: u32,
    /// What the arms showed, and why.
    pub evidence: String,
    /// The replica that took the step.
    pub replica: u64,
    /// When the rollout began (ms since the Unix epoch).
    pub started_ms: u64,
    /// When this step was taken (ms since the Unix epoch).
    pub at_ms: u64,
}

/// What [`CanaryStore::advance`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    /// The step is taken: this replica made it.
    Taken,
    /// Another replica moved the rollout first: where it is now.
    Moved(Option<RolloutStep>),
}

/// Counters one replica measured in one step of a rollout, by name (what
/// the names mean is the gateway's business; the store only adds them up).
pub type StepCounts = BTreeMap<String, u64>;

/// Where rollouts are kept, by key (the canary's name and a fingerprint of
/// its definition, so a changed definition starts a rollout of its own).
pub trait CanaryStore: Send + Sync + std::fmt::Debug {
    /// The rollout `key`, if a replica started it.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<RolloutStep>, StateError>>;
    /// Stores `next` as rollout `key` if its generation is still `expected`
    /// (0: not stored yet); `next.generation` must be `expected + 1`.
    fn advance<'a>(
        &'a self,
        key: &'a str,
        expected: u64,
        next: RolloutStep,
    ) -> BoxFuture<'a, Result<Advance, StateError>>;
    /// Adds `delta` to `replica`'s counters for step `generation` of
    /// rollout `key` and returns every replica's counters for that step,
    /// its own included. Counters of one step are never those of another:
    /// a new step starts from nothing.
    fn count<'a>(
        &'a self,
        key: &'a str,
        generation: u64,
        replica: u64,
        delta: StepCounts,
    ) -> BoxFuture<'a, Result<HashMap<u64, StepCounts>, StateError>>;
}

/// Each replica's counters in a rollout's newest step counted.
type Counted = (u64, HashMap<u64, StepCounts>);

/// The in-process store: shared by every gateway in the process given the
/// same instance.
#[derive(Debug, Default)]
pub struct InMemoryCanaries {
    rollouts: Mutex<HashMap<String, RolloutStep>>,
    counts: Mutex<HashMap<String, Counted>>,
}

impl CanaryStore for InMemoryCanaries {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<RolloutStep>, StateError>> {
        let found = self.rollouts.lock().get(key).cloned();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn advance<'a>(
        &'a self,
        key: &'a str,
        expected: u64,
        next: RolloutStep,
    ) -> BoxFuture<'a, Result<Advance, StateError>> {
        let mut all = self.rollouts.lock();
        let current = all.get(key).map_or(0, |r| r.generation);
        let result = if current == expected && next.generation == expected + 1 {
            all.insert(key.to_owned(), next);
            Advance::Taken
        } else {
            Advance::Moved(all.get(key).cloned())
        };
        drop(all);
        Box::pin(std::future::ready(Ok(result)))
    }

    fn count<'a>(
        &'a self,
        key: &'a str,
        generation: u64,
        replica: u64,
        delta: StepCounts,
    ) -> BoxFuture<'a, Result<HashMap<u64, StepCounts>, StateError>> {
        let mut all = self.counts.lock();
        let (step, replicas) = all.entry(key.to_owned()).or_default();
        // Only the newest step's counters are kept: an older one is over.
        if generation > *step {
            *step = generation;
            replicas.clear();
        }
        let result = if generation == *step {
            let mine = replicas.entry(replica).or_default();
            for (name, n) in delta {
                *mine.entry(name).or_default() += n;
            }
            replicas.clone()
        } else {
            HashMap::new()
        };
        drop(all);
        Box::pin(std::future::ready(Ok(result)))
    }
}
