//! The contracts of the quality-loop state every backend shares: quality
//! marks, canary steps and shadow budgets (see the parent module).

use std::time::Duration;

use super::{Backend, eventually};
use crate::{Advance, QualityMark, RolloutPhase, RolloutStep, StepKind, unix_ms};

fn mark(replica: u64, disabled: Option<&str>, warning: Option<&str>, ttl_ms: u64) -> QualityMark {
    QualityMark {
        replica,
        disabled: disabled.map(str::to_owned),
        warning: warning.map(str::to_owned),
        expires_ms: unix_ms() + ttl_ms,
        intent: None,
    }
}

/// A route one replica's runs disable is disabled for the other (not by
/// its own mark); marks are per replica, so one replica's recovery leaves
/// another's mark in force; a mark not published again expires.
pub async fn quality_marks_spread_per_replica_and_expire(b: &impl Backend) {
    let [one, two] = b.quality().await;
    one.publish("r", mark(1, Some("tool-call 0.00 < 1.00"), None, 60_000));
    assert!(
        one.snapshot().disabled_elsewhere("r", 1).is_none(),
        "own mark is local"
    );
    let seen = two.snapshot();
    assert!(
        eventually(|| seen.disabled_elsewhere("r", 2).is_some()).await,
        "the other replica sees the route disabled"
    );
    assert_eq!(
        seen.disabled_elsewhere("r", 2).as_deref(),
        Some("tool-call 0.00 < 1.00")
    );
    assert!(seen.disabled_elsewhere("other", 2).is_none(), "per route");
    assert!(seen.warned_elsewhere("r", 2).is_none());
    two.publish("r", mark(3, None, Some("grounded 0.80 < 0.90"), 60_000));
    let mine = one.snapshot();
    assert!(eventually(|| mine.warned_elsewhere("r", 1).is_some()).await);
    one.publish("r", mark(1, None, None, 60_000));
    assert!(
        eventually(|| seen.disabled_elsewhere("r", 2).is_none()).await,
        "a recovery reaches every replica"
    );
    assert_eq!(
        seen.warned_elsewhere("r", 2).as_deref(),
        Some("grounded 0.80 < 0.90"),
        "another replica's mark stays"
    );
    one.publish("short", mark(1, Some("down"), None, 400));
    assert!(eventually(|| seen.disabled_elsewhere("short", 2).is_some()).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(seen.disabled_elsewhere("short", 2).is_none(), "expired");
}

/// A mark for one intent holds on the other replica for that intent only:
/// neither the route as a whole nor another intent is disabled by it, and
/// it sits beside the replica's route mark (each replaced, cleared and
/// expired on its own).
pub async fn quality_marks_for_an_intent_hold_for_that_intent_only(b: &impl Backend) {
    let [one, two] = b.quality().await;
    let scoped = |m: QualityMark| QualityMark {
        intent: Some("weather".into()),
        ..m
    };
    one.publish(
        "r",
        scoped(mark(1, Some("w tool-call 0.00 < 1.00"), None, 60_000)),
    );
    one.publish("r", mark(1, None, Some("grounded 0.80 < 0.90"), 60_000));
    let seen = two.snapshot();
    assert!(
        eventually(|| seen.disabled_elsewhere_for("r", "weather", 2).is_some()).await,
        "the other replica sees the intent's gate closed"
    );
    assert_eq!(
        seen.disabled_elsewhere_for("r", "weather", 2).as_deref(),
        Some("w tool-call 0.00 < 1.00")
    );
    assert!(
        eventually(|| seen.warned_elsewhere("r", 2).is_some()).await,
        "the route's own mark is kept beside it"
    );
    assert!(seen.disabled_elsewhere("r", 2).is_none(), "not the route");
    assert!(seen.disabled_elsewhere_for("r", "general", 2).is_none());
    assert!(seen.disabled_elsewhere_for("other", "weather", 2).is_none());
    assert!(seen.warned_elsewhere_for("r", "weather", 2).is_none());
    assert!(
        one.snapshot()
            .disabled_elsewhere_for("r", "weather", 1)
            .is_none()
    );
    assert_eq!(
        seen.disabled_intents_elsewhere("r", 2),
        [("weather".to_owned(), "w tool-call 0.00 < 1.00".to_owned())]
    );
    one.publish(
        "r",
        scoped(mark(1, None, Some("w tool-call 0.90 < 0.95"), 60_000)),
    );
    assert!(
        eventually(|| seen.warned_elsewhere_for("r", "weather", 2).is_some()).await,
        "an intent's warning reaches the other replica"
    );
    assert!(
        seen.disabled_elsewhere_for("r", "weather", 2).is_none(),
        "replaced"
    );
    one.publish("r", scoped(mark(1, None, None, 60_000)));
    assert!(eventually(|| seen.warned_elsewhere_for("r", "weather", 2).is_none()).await);
    assert!(
        seen.warned_elsewhere("r", 2).is_some(),
        "the route's mark stays"
    );
    one.publish("r", scoped(mark(1, Some("down"), None, 400)));
    assert!(eventually(|| seen.disabled_elsewhere_for("r", "weather", 2).is_some()).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        seen.disabled_elsewhere_for("r", "weather", 2).is_none(),
        "expired"
    );
}

fn step(generation: u64, phase: RolloutPhase, kind: StepKind, replica: u64) -> RolloutStep {
    RolloutStep {
        generation,
        phase,
        kind,
        from_bp: 100,
        to_bp: 500,
        evidence: format!("replica {replica}"),
        replica,
        started_ms: 1,
        at_ms: unix_ms(),
    }
}

/// A rollout's step is a compare-and-set on its generation: two replicas
/// deciding the same step at once take it once (the other learns where
/// the rollout is), a stale replica cannot step again, rollouts are
/// independent, and what one replica stored the other loads.
pub async fn canary_steps_are_taken_once(b: &impl Backend) {
    let [one, two] = b.canaries().await;
    assert_eq!(one.load("c").await.unwrap(), None);
    let start = step(1, RolloutPhase::Stepping(0), StepKind::Started, 1);
    assert_eq!(
        one.advance("c", 0, start.clone()).await.unwrap(),
        Advance::Taken
    );
    assert_eq!(two.load("c").await.unwrap(), Some(start.clone()));
    let by = |r| step(2, RolloutPhase::Stepping(1), StepKind::Promoted, r);
    let (x, y) = tokio::join!(one.advance("c", 1, by(1)), two.advance("c", 1, by(2)));
    let (x, y) = (x.unwrap(), y.unwrap());
    let taken = [&x, &y]
        .iter()
        .filter(|a| matches!(a, Advance::Taken))
        .count();
    assert_eq!(taken, 1, "one promotion, not two: {x:?} {y:?}");
    let winner = two.load("c").await.unwrap().unwrap();
    assert_eq!(winner.generation, 2);
    let loser = if x == Advance::Taken { y } else { x };
    assert_eq!(loser, Advance::Moved(Some(winner.clone())));
    let stale = step(2, RolloutPhase::RolledBack, StepKind::RolledBack, 1);
    assert_eq!(
        one.advance("c", 1, stale).await.unwrap(),
        Advance::Moved(Some(winner)),
        "a stale replica cannot step"
    );
    assert_eq!(two.load("other").await.unwrap(), None, "per rollout");
    assert_eq!(
        two.advance("other", 0, start).await.unwrap(),
        Advance::Taken
    );
}

/// A shadow rule's hourly requests and spend are counted across replicas,
/// per rule and per hour.
pub async fn shadow_budgets_are_shared_per_rule_and_hour(b: &impl Backend) {
    let [x, y] = b.shadow_budgets().await;
    let hour = unix_ms() / 3_600_000;
    for (i, s) in [&x, &y, &x].into_iter().enumerate() {
        assert!(s.take("r", hour, 3, None).await.unwrap(), "request {i}");
    }
    assert!(!y.take("r", hour, 3, None).await.unwrap(), "used up");
    assert!(x.take("other", hour, 3, None).await.unwrap(), "per rule");
    assert!(y.take("r", hour + 1, 3, None).await.unwrap(), "per hour");
    assert!(x.take("priced", hour, 100, Some(1000)).await.unwrap());
    y.spend("priced", hour, 600).await.unwrap();
    assert!(x.take("priced", hour, 100, Some(1000)).await.unwrap());
    x.spend("priced", hour, 400).await.unwrap();
    assert!(
        !y.take("priced", hour, 100, Some(1000)).await.unwrap(),
        "the hour's spend is used up"
    );
}
