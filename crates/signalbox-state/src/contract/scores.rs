//! The contracts of what replicas count together: quality scores and the
//! counts a canary step is judged on (see the parent module).

use std::time::Duration;

use crate::{ScoreKey, ScoreTally, StepCounts, unix_ms};

use super::Backend;

fn key(window_start: u64, model: &str) -> ScoreKey {
    ScoreKey {
        window_start,
        route: "r".into(),
        model_version: model.into(),
        prompt_version: "-".into(),
        suite: "s".into(),
        scorer: "tool-call".into(),
    }
}

/// Two replicas' runs in one window make one row whose counts add up
/// (never an average of their rates) and name both replicas; a new model
/// version is a row of its own; both replicas read the same history.
pub async fn scores_add_up_across_replicas(b: &impl Backend) {
    let [one, two] = b.scores().await;
    // The current hour (a networked store expires windows long past).
    let hour = unix_ms() / 1000 / 3_600 * 3_600;
    one.add(
        3_600,
        vec![(key(hour + 100, "v1"), ScoreTally::run(1, 3, 4))],
    );
    two.add(
        3_600,
        vec![(key(hour + 400, "v1"), ScoreTally::run(2, 0, 1))],
    );
    two.add(
        3_600,
        vec![(key(hour + 500, "v2"), ScoreTally::run(2, 1, 1))],
    );
    let want = vec![
        (
            key(hour, "v1"),
            ScoreTally {
                passed: 3,
                scored: 5,
                runs: 2,
                replicas: vec![1, 2],
            },
        ),
        (key(hour, "v2"), ScoreTally::run(2, 1, 1)),
    ];
    for (i, store) in [&one, &two].into_iter().enumerate() {
        let mut rows = Vec::new();
        for _ in 0..50 {
            rows = store.rows().await.unwrap();
            if rows == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(rows, want, "replica {i}'s view");
    }
}

fn counts(pairs: &[(&str, u64)]) -> StepCounts {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Each replica adds to its own counters of a step and reads every
/// replica's; a new step starts from nothing; rollouts are independent.
pub async fn canary_counts_add_up_per_step(b: &impl Backend) {
    let [one, two] = b.canaries().await;
    let seen = one.count("c", 1, 1, counts(&[("c.requests", 3)])).await;
    assert_eq!(seen.unwrap().get(&1), Some(&counts(&[("c.requests", 3)])));
    let seen = two
        .count("c", 1, 2, counts(&[("c.requests", 2), ("c.errors", 1)]))
        .await
        .unwrap();
    assert_eq!(seen.get(&1), Some(&counts(&[("c.requests", 3)])));
    assert_eq!(
        seen.get(&2),
        Some(&counts(&[("c.requests", 2), ("c.errors", 1)]))
    );
    let again = one
        .count("c", 1, 1, counts(&[("c.requests", 1)]))
        .await
        .unwrap();
    assert_eq!(again.get(&1), Some(&counts(&[("c.requests", 4)])), "adds");
    assert_eq!(again.len(), 2);
    let next = one.count("c", 2, 1, StepCounts::new()).await.unwrap();
    assert!(
        next.values().all(StepCounts::is_empty),
        "a new step starts from nothing: {next:?}"
    );
    let other = two.count("other", 1, 2, StepCounts::new()).await.unwrap();
    assert!(other.values().all(StepCounts::is_empty), "per rollout");
}
