//! The schedule under a paused clock: jitter that is deterministic and
//! bounded, and budgets that skip a run before it would overspend.

use super::*;

const EVERY: Duration = Duration::from_secs(60);

/// The offsets (from the first run) at which `route` runs in `horizon`,
/// ticking every second.
fn run_times(s: &Schedule, route: &str, jitter: Duration, horizon: u64) -> Vec<u64> {
    let start = Instant::now();
    (0..horizon)
        .filter(|t| s.take_due(route, start + Duration::from_secs(*t), EVERY, jitter))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn without_jitter_a_route_runs_every_interval() {
    let s = Schedule::new(0);
    assert_eq!(run_times(&s, "r", Duration::ZERO, 200), [0, 60, 120, 180]);
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_runs_deterministically_within_its_bound() {
    let jitter = Duration::from_secs(30);
    let a = run_times(&Schedule::new(7), "r", jitter, 1000);
    assert_eq!(
        a,
        run_times(&Schedule::new(7), "r", jitter, 1000),
        "same seed, same times"
    );
    for gap in a.windows(2).map(|w| w[1] - w[0]) {
        assert!((60..=91).contains(&gap), "gap {gap} in {a:?}");
    }
    let gaps: std::collections::HashSet<u64> = a.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() > 1, "the share differs from run to run: {a:?}");
    assert_ne!(
        a,
        run_times(&Schedule::new(8), "r", jitter, 1000),
        "another replica drifts apart"
    );
    assert_ne!(
        a,
        run_times(&Schedule::new(7), "other", jitter, 1000),
        "another route drifts apart"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_that_would_exceed_the_request_budget_is_skipped_until_the_hour_is_over() {
    let s = Schedule::new(0);
    let budget = QualityBudget {
        requests_per_hour: Some(5),
        cost_per_hour_usd: None,
    };
    let now = Instant::now();
    assert!(s.admit("r", now, 3, budget).is_ok());
    s.spend("r", now, 3, 0.0);
    let why = s.admit("r", now, 3, budget).unwrap_err();
    assert!(why.contains("would exceed 5 per hour (3 used)"), "{why}");
    assert!(s.admit("r", now, 2, budget).is_ok(), "a smaller run fits");
    let later = now + HOUR;
    assert!(s.admit("r", later, 3, budget).is_ok(), "a new hour");
    // A run larger than the whole budget never fits.
    assert!(s.admit("r", later, 6, budget).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_estimated_cost_would_exceed_the_cost_budget_is_skipped() {
    let s = Schedule::new(0);
    let budget = QualityBudget {
        requests_per_hour: None,
        cost_per_hour_usd: Some(0.01),
    };
    let now = Instant::now();
    assert!(s.admit("r", now, 4, budget).is_ok(), "no estimate yet");
    s.spend("r", now, 4, 0.006);
    let why = s.admit("r", now, 4, budget).unwrap_err();
    assert!(why.contains("estimated at $0.0060"), "{why}");
    assert!(s.admit("r", now, 2, budget).is_ok());
    s.skip("r", SkipReason::Budget, &why);
    let view = s.view("r", now, budget);
    assert_eq!(view["skipped"]["budget"], 1);
    assert_eq!(view["budget"]["requests_this_hour"], 4);
    assert!(view["last_skip"].as_str().unwrap().contains("budget"));
}
