//! Owns how a canary's rollout is shared across replicas (the `state`
//! backend's [`signalbox_state::CanaryStore`]): every tick a replica first
//! takes the step another replica took (so a rollback anywhere is a
//! rollback everywhere, and a promotion moves every replica's share), then
//! evaluates its own traffic, and a step it decides is taken through the
//! store's compare-and-set: if another replica moved the rollout first, the
//! local step is withdrawn and the other's adopted, so two replicas deciding
//! at once make one step and one audit entry. When the store cannot be
//! reached the replica steps on its own (as every replica did before the
//! state was shared), counts it (`signalbox_state_fallbacks_total{store=
//! "canary"}`), and shares a rollback it took alone once the store answers.
//! Before each evaluation the replica adds its step's counts to the shared
//! counters and reads the other replicas' (`exchange_counts`), so promotion
//! and rollback weigh every replica's traffic. A prompt canary's step also
//! reads the scheduled runs' scores of its versions from the shared score
//! store (`scheduled_scores`), so a run on any replica judges it.

use signalbox_core::metric_names as m;
use signalbox_state::{Advance, RolloutStep, StateError};

use super::evals::Gathered;
use super::state::{Event, EventKind, Phase};
use super::{Canary, Entry};
use crate::AppState;
use crate::runtime::Runtime;

/// One evaluation of one canary, shared through the store.
pub(super) async fn tick(state: &AppState, rt: &Runtime, e: &Entry) {
    let c = &e.canary;
    let store = &state.quality_state.canaries;
    let reachable = match store.load(&c.key).await {
        Ok(shared) => {
            catch_up(state, c, shared).await;
            true
        }
        Err(err) => {
            fell_back(state, &err);
            false
        }
    };
    if reachable {
        exchange_counts(state, c).await;
    }
    let quality = quality_verdict(rt, e);
    let scores = scheduled_scores(state, rt, e).await;
    let stepped = {
        let mut s = c.state.lock();
        let before = s.phase;
        let event = match &scores {
            Some(g) => g.with(|evals| s.evaluate(&c.cfg, quality, Some(evals))),
            None => s.evaluate(&c.cfg, quality, None),
        };
        c.publish_share(&s);
        event.map(|ev| (before, s.shared_step(state.breakers.replica, &ev), ev))
    };
    let Some((before, next, event)) = stepped else {
        return;
    };
    if !reachable {
        c.state.lock().pending = true;
        super::tell(state, &c.cfg, &event);
        return;
    }
    share(state, c, before, next, &event).await;
}

/// Adds what this replica counted in the step since the last tick to the
/// step's shared counters and takes every other replica's, so the step is
/// judged on the deployment's traffic. Not while a step taken here alone
/// waits to be shared (its generation is not the store's), nor once the
/// rollout is over. A store that does not answer leaves the last view of
/// the others (counted); its next answer says what it holds of this
/// replica, so what it missed is sent again then — and what it got from a
/// call that timed out after landing is not sent twice.
async fn exchange_counts(state: &AppState, c: &Canary) {
    let (generation, delta) = {
        let mut s = c.state.lock();
        if s.pending || s.generation == 0 || !matches!(s.phase, Phase::Stepping(_)) {
            return;
        }
        (s.generation, s.flush())
    };
    let replica = state.breakers.replica;
    let store = &state.quality_state.canaries;
    let result = store.count(&c.key, generation, replica, delta).await;
    let mut s = c.state.lock();
    // A step taken meanwhile started its counts afresh: these were of the
    // step before.
    if s.generation != generation {
        return;
    }
    match result {
        Ok(all) => s.counted_elsewhere(replica, &all),
        Err(err) => {
            drop(s);
            fell_back(state, &err);
        }
    }
}

/// Why the quality loop keeps a route canary's route from serving, if it
/// does (here or, through the shared quality marks, on another replica).
fn quality_verdict(rt: &Runtime, e: &Entry) -> Option<String> {
    match e.arms {
        super::Arms::Route { canary, .. } => rt
            .routes
            .get(canary)
            .and_then(|r| r.health.quality.closed()),
        super::Arms::Prompt { .. } => None,
    }
}

/// A rolling prompt canary's floors (of the suites run under its
/// version) and the scheduled runs' scores; `None` for a route canary, a
/// rollout that is over, or a version no suite runs under. A store that
/// cannot be reached gives no rows (counted): the step then waits for
/// them rather than be promoted blind.
async fn scheduled_scores(state: &AppState, rt: &Runtime, e: &Entry) -> Option<Gathered> {
    if !matches!(e.arms, super::Arms::Prompt { .. }) || !e.canary.measuring() {
        return None;
    }
    let cfg = &e.canary.cfg;
    let arms = cfg.subject.arms();
    let floors = crate::quality::canary_floors(rt, &arms.1);
    if floors.is_empty() {
        return None;
    }
    let rows = state
        .quality_state
        .scores
        .rows()
        .await
        .unwrap_or_else(|err| {
            fell_back(state, &err);
            Vec::new()
        });
    let routes = rt
        .config
        .alias(&cfg.alias)
        .map(|a| a.routes.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    Some(Gathered {
        floors,
        rows,
        routes,
        window_secs: rt.config.quality.score_window.as_secs().max(1),
        arms,
        drop: cfg.rollback.eval_drop,
    })
}

/// Brings the local state level with the store: another replica's step
/// is adopted; a rollout the store does not hold (nobody shared it yet, or
/// the store lost it) is shared as this replica has it; a step taken here
/// while the store was unreachable is shared now, unless another replica
/// stepped meanwhile (its step is adopted) — a rollback taken here wins
/// over anything but a rollback.
async fn catch_up(state: &AppState, c: &Canary, shared: Option<RolloutStep>) {
    let replica = state.breakers.replica;
    let (push, was_pending) = {
        let mut s = c.state.lock();
        let was_pending = s.pending;
        let stored = shared.as_ref().map_or(0, |r| r.generation);
        let rollback_wins = s.pending
            && s.phase == Phase::RolledBack
            && shared.as_ref().is_none_or(|r| r.phase != Phase::RolledBack);
        let ours = match &shared {
            _ if rollback_wins => true,
            // Not pending: the store is the truth, even one that lost
            // history (a Redis restarted empty numbers from 1 again).
            Some(r) if !s.pending || r.generation > s.generation => {
                if s.adopt(&c.cfg, r) {
                    tracing::info!(canary = %c.cfg.name, step = r.kind.label(), "Canary step taken by another replica.");
                }
                c.publish_share(&s);
                false
            }
            Some(_) => true,
            None => true,
        };
        s.pending = false;
        let push = if ours {
            s.generation = stored;
            s.events.last().map(|ev| s.shared_step(replica, ev))
        } else {
            None
        };
        (push, was_pending)
    };
    let Some(next) = push else {
        return;
    };
    let expected = next.generation - 1;
    let result = state
        .quality_state
        .canaries
        .advance(&c.key, expected, next)
        .await;
    let mut s = c.state.lock();
    match result {
        Ok(Advance::Taken) => s.generation = expected + 1,
        // Another replica was first: its step is adopted at the next tick,
        // or this one's pending step pushed again on top of it.
        Ok(Advance::Moved(_)) => s.pending = was_pending,
        Err(err) => {
            s.pending = was_pending;
            drop(s);
            fell_back(state, &err);
        }
    }
}

/// Takes the step decided here through the store; tells of it only when
/// this replica took it.
async fn share(state: &AppState, c: &Canary, before: Phase, next: RolloutStep, event: &Event) {
    let store = &state.quality_state.canaries;
    let expected = next.generation - 1;
    match store.advance(&c.key, expected, next).await {
        Ok(Advance::Taken) => {
            c.state.lock().generation = expected + 1;
            super::tell(state, &c.cfg, event);
        }
        Ok(Advance::Moved(current)) => {
            let mut s = c.state.lock();
            s.withdraw(before);
            if let Some(r) = &current {
                s.adopt(&c.cfg, r);
            }
            // A regression seen here still rolls back whatever step another
            // replica moved to: the rollback is retried at the next tick.
            let roll_back = event.kind == EventKind::RolledBack && s.phase != Phase::RolledBack;
            if roll_back {
                s.phase = Phase::RolledBack;
                s.pending = true;
                s.events.push(event.clone());
            }
            c.publish_share(&s);
            drop(s);
            if roll_back {
                super::tell(state, &c.cfg, event);
            }
        }
        Err(err) => {
            fell_back(state, &err);
            c.state.lock().pending = true;
            super::tell(state, &c.cfg, event);
        }
    }
}

/// The store could not be reached: this replica steps on its own.
fn fell_back(state: &AppState, err: &StateError) {
    state
        .telemetry
        .count(m::STATE_FALLBACKS_TOTAL, &[("store", "canary")]);
    tracing::debug!(error = %err, "Canary state not shared; this replica steps on its own.");
}
