//! The canary state machine under a paused clock: promotion on clean
//! windows, rollback on each regression, and what is only noise.

use signalbox_config::{CanaryConfig, CanaryRollback, CanarySubject};
use signalbox_core::RouteId;
use tokio::time::{Duration, advance};

use super::*;
use crate::canary::evals::{Floor, PassCount, ScoreView};

fn cfg() -> CanaryConfig {
    CanaryConfig {
        name: "m2".into(),
        alias: "chat".into(),
        subject: CanarySubject::Route {
            baseline: RouteId::new("old"),
            canary: RouteId::new("new"),
        },
        steps_bp: vec![100, 500, 2500, 10_000],
        min_requests: 5,
        min_duration: Duration::from_secs(10),
        rollback: CanaryRollback::default(),
    }
}

fn ok(latency_ms: f64) -> Sample {
    Sample {
        error: false,
        latency_ms: Some(latency_ms),
        cost_usd: Some(0.001),
        valid: Some(true),
    }
}

fn feed(s: &mut State, arm: Arm, n: usize, sample: Sample) {
    for _ in 0..n {
        s.record(arm, sample);
    }
}

#[tokio::test(start_paused = true)]
async fn clean_windows_promote_step_by_step_until_complete() {
    let c = cfg();
    let mut s = State::new(&c);
    assert_eq!(s.share_bp(&c), 100);
    assert_eq!(s.events[0].kind, EventKind::Started);
    for (want_kind, want_bp) in [
        (EventKind::Promoted, 500),
        (EventKind::Promoted, 2500),
        (EventKind::Completed, 10_000),
    ] {
        feed(&mut s, Arm::Canary, 5, ok(100.0));
        feed(&mut s, Arm::Baseline, 20, ok(100.0));
        // Enough requests, not yet long enough.
        assert_eq!(s.evaluate(&c, None, None), None);
        advance(Duration::from_secs(10)).await;
        let e = s.evaluate(&c, None, None).unwrap();
        assert_eq!((e.kind, e.to_bp), (want_kind, want_bp));
        assert!(e.evidence.starts_with("clean window"), "{}", e.evidence);
    }
    assert_eq!(s.phase, Phase::Completed);
    assert_eq!(s.evaluate(&c, None, None), None);
}

#[tokio::test(start_paused = true)]
async fn a_long_window_without_enough_requests_is_not_promoted() {
    let c = cfg();
    let mut s = State::new(&c);
    feed(&mut s, Arm::Canary, 4, ok(100.0));
    advance(Duration::from_secs(3600)).await;
    assert_eq!(s.evaluate(&c, None, None), None);
    assert_eq!(s.share_bp(&c), 100);
}

#[tokio::test(start_paused = true)]
async fn a_drop_of_exactly_score_drop_is_within_it() {
    let c = cfg();
    let mut s = State::new(&c);
    let valid = |v: bool| Sample {
        valid: Some(v),
        ..ok(100.0)
    };
    // 80 % against 70 %: a drop of exactly the default 10 points.
    feed(&mut s, Arm::Baseline, 8, valid(true));
    feed(&mut s, Arm::Baseline, 2, valid(false));
    feed(&mut s, Arm::Canary, 7, valid(true));
    feed(&mut s, Arm::Canary, 3, valid(false));
    assert_eq!(s.evaluate(&c, None, None), None);
    // One more invalid answer is more than the drop.
    feed(&mut s, Arm::Canary, 1, valid(false));
    let e = s.evaluate(&c, None, None).unwrap();
    assert_eq!(e.kind, EventKind::RolledBack);
    assert!(
        e.evidence.contains("valid answers 64% vs 80%"),
        "{}",
        e.evidence
    );
}

#[tokio::test(start_paused = true)]
async fn each_regression_rolls_back_at_once_with_its_evidence() {
    let error = Sample {
        error: true,
        ..Sample::default()
    };
    let slow = ok(400.0);
    let dear = Sample {
        cost_usd: Some(0.01),
        ..ok(100.0)
    };
    let invalid = Sample {
        valid: Some(false),
        ..ok(100.0)
    };
    for (bad, want) in [
        (error, "error rate"),
        (slow, "p95 latency 400ms vs 100ms"),
        (dear, "cost per request"),
        (invalid, "valid answers 0% vs 100%"),
    ] {
        let c = cfg();
        let mut s = State::new(&c);
        feed(&mut s, Arm::Baseline, 50, ok(100.0));
        feed(&mut s, Arm::Canary, 5, bad);
        // No wait for the window: a regression rolls back at once.
        let e = s.evaluate(&c, None, None).unwrap();
        assert_eq!(
            (e.kind, e.from_bp, e.to_bp),
            (EventKind::RolledBack, 100, 0)
        );
        assert!(e.evidence.contains(want), "{want}: {}", e.evidence);
        assert!(e.evidence.contains("baseline: 50 req"), "{}", e.evidence);
        assert_eq!(s.share_bp(&c), 0);
        // Rolled back stays rolled back.
        feed(&mut s, Arm::Canary, 50, ok(100.0));
        advance(Duration::from_secs(60)).await;
        assert_eq!(s.evaluate(&c, None, None), None);
    }
}

#[tokio::test(start_paused = true)]
async fn the_quality_loop_disabling_the_canary_route_rolls_back_without_traffic() {
    let c = cfg();
    let mut s = State::new(&c);
    let e = s
        .evaluate(
            &c,
            Some("quality regression: tool-call 0.00 < 1.00".into()),
            None,
        )
        .unwrap();
    assert_eq!(e.kind, EventKind::RolledBack);
    assert!(
        e.evidence.contains("the quality loop disabled new"),
        "{}",
        e.evidence
    );
}

#[tokio::test(start_paused = true)]
async fn a_latency_difference_within_the_slack_is_noise() {
    let c = cfg();
    let mut s = State::new(&c);
    feed(&mut s, Arm::Baseline, 50, ok(1.0));
    feed(&mut s, Arm::Canary, 5, ok(6.0));
    assert_eq!(s.evaluate(&c, None, None), None);
}

#[test]
fn p95_is_the_ninety_fifth_percentile() {
    let mut a = ArmStats::default();
    for l in 1..=100 {
        a.record(Sample {
            latency_ms: Some(f64::from(l)),
            ..Sample::default()
        });
    }
    assert_eq!(a.p95_ms(), Some(95.0));
    assert_eq!(ArmStats::default().p95_ms(), None);
}

/// Two replicas each seeing half the traffic: this one's flush is what it
/// counted since the last one, the other's counters (as the store
/// answered) make up the window, and a regression only the sum shows
/// rolls back.
#[tokio::test(start_paused = true)]
async fn other_replicas_counts_make_up_the_window_and_the_regression() {
    let c = cfg();
    let mut s = State::new(&c);
    feed(&mut s, Arm::Canary, 3, ok(100.0));
    feed(&mut s, Arm::Baseline, 10, ok(100.0));
    let first = s.flush();
    assert_eq!(first.get("c.requests"), Some(&3));
    assert_eq!(first.get("b.requests"), Some(&10));
    assert!(s.flush().is_empty(), "nothing new since");
    feed(&mut s, Arm::Canary, 1, ok(100.0));
    // Flushed, but the store never got it (its answer below lacks it).
    let lost = s.flush();
    assert_eq!(lost.get("c.requests"), Some(&1));
    advance(Duration::from_secs(10)).await;
    assert_eq!(
        s.evaluate(&c, None, None),
        None,
        "4 of 5 requests here alone"
    );
    // Another replica counted 2 canary requests (and this one's own 4,
    // which are not counted twice).
    let other: StepCounts = [("c.requests".to_owned(), 2)].into();
    // The store answers with the first flush only: the lost one is sent
    // again, nothing else.
    s.counted_elsewhere(1, &[(9, other.clone()), (1, first.clone())].into());
    assert_eq!(s.flush(), lost, "what the store missed is sent again");
    // A store that lost all of this replica's counts is sent them all.
    s.counted_elsewhere(1, &[(9, other.clone())].into());
    let mine = s.flush();
    assert_eq!(mine.get("c.requests"), Some(&4), "resent whole");
    let all: HashMap<u64, StepCounts> = [(9, other), (1, mine)].into();
    s.counted_elsewhere(1, &all);
    assert!(
        s.flush().is_empty(),
        "the store holds all of this replica's"
    );
    let e = s.evaluate(&c, None, None).unwrap();
    assert_eq!(e.kind, EventKind::Promoted);
    assert!(
        e.evidence.contains("canary: 6 req (2 on other replicas)"),
        "{}",
        e.evidence
    );
    // The next step starts from nothing, here and from the others.
    assert_eq!(s.arms[1].requests(), 0);
    // 3 canary errors here of 5 requests in all: over the +5 points alone
    // would need 5 requests here.
    feed(&mut s, Arm::Baseline, 10, ok(100.0));
    feed(
        &mut s,
        Arm::Canary,
        3,
        Sample {
            error: true,
            ..Sample::default()
        },
    );
    assert_eq!(
        s.evaluate(&c, None, None),
        None,
        "3 requests here: not yet judged"
    );
    let other: StepCounts = [("c.requests".to_owned(), 2), ("c.errors".to_owned(), 1)].into();
    s.counted_elsewhere(1, &[(9, other)].into());
    let e = s.evaluate(&c, None, None).unwrap();
    assert_eq!(e.kind, EventKind::RolledBack);
    assert!(e.evidence.contains("error rate 80.0%"), "{}", e.evidence);
}

/// Scores as a fixed table: (prompt version, pass count) for one suite
/// and scorer, evaluated `at` (Unix seconds).
struct Scored(Vec<(&'static str, u64, PassCount)>);

/// Each `at` is a window of its own.
impl ScoreView for Scored {
    fn newest(
        &self,
        version: &str,
        suite: &str,
        scorer: &str,
        since: u64,
    ) -> Option<(u64, PassCount)> {
        assert_eq!((suite, scorer), ("tools", "tool-call"));
        self.0
            .iter()
            .filter(|(v, at, _)| *v == version && *at >= since)
            .max_by_key(|(_, at, _)| *at)
            .map(|(_, at, c)| (*at, *c))
    }

    fn in_window(&self, version: &str, _: &str, _: &str, window: u64) -> Option<PassCount> {
        self.0
            .iter()
            .find(|(v, at, _)| *v == version && *at == window)
            .map(|(_, _, c)| *c)
    }
}

fn floors() -> Vec<Floor> {
    vec![Floor {
        suite: "tools".into(),
        scorer: "tool-call".into(),
        min: 0.9,
    }]
}

fn evals<'a>(floors: &'a [Floor], view: &'a Scored) -> Evals<'a> {
    Evals {
        canary: "support@v2",
        baseline: "support@v1",
        floors,
        drop: 0.1,
        view,
    }
}

const fn count(passed: u64, scored: u64) -> PassCount {
    PassCount { passed, scored }
}

#[tokio::test(start_paused = true)]
async fn a_canary_version_below_its_suites_floor_rolls_back_with_the_eval_as_evidence() {
    let c = cfg();
    let mut s = State::new(&c);
    let now = signalbox_core::clock::unix_secs();
    let view = Scored(vec![
        ("support@v2", now, count(1, 4)),
        ("support@v1", now, count(4, 4)),
    ]);
    let floors = floors();
    // No live traffic is needed: the scheduled run is the evidence.
    let e = s.evaluate(&c, None, Some(&evals(&floors, &view))).unwrap();
    assert_eq!((e.kind, e.to_bp), (EventKind::RolledBack, 0));
    assert!(
        e.evidence.starts_with(
            "eval suite tools scorer tool-call: support@v2 pass rate 25% (1/4) below the \
             suite's min-pass-rate 90% (baseline support@v1 100% (4/4))"
        ),
        "{}",
        e.evidence
    );
}

#[tokio::test(start_paused = true)]
async fn a_good_eval_score_promotes_and_a_missing_or_stale_one_holds_the_step() {
    let c = cfg();
    let mut s = State::new(&c);
    let floors = floors();
    let started = signalbox_core::clock::unix_secs();
    advance(Duration::from_secs(30)).await;
    // A good score alone neither rolls back nor promotes a step without traffic.
    let good = Scored(vec![("support@v2", started + 20, count(4, 4))]);
    assert_eq!(s.evaluate(&c, None, Some(&evals(&floors, &good))), None);
    feed(&mut s, Arm::Canary, 5, ok(100.0));
    feed(&mut s, Arm::Baseline, 20, ok(100.0));
    // A clean traffic window, but the canary version not evaluated yet.
    let none = Scored(Vec::new());
    assert_eq!(s.evaluate(&c, None, Some(&evals(&floors, &none))), None);
    // A bad score from before the step began is not this step's.
    let stale = Scored(vec![("support@v2", started - 5, count(0, 4))]);
    assert_eq!(s.evaluate(&c, None, Some(&evals(&floors, &stale))), None);
    let e = s.evaluate(&c, None, Some(&evals(&floors, &good))).unwrap();
    assert_eq!((e.kind, e.to_bp), (EventKind::Promoted, 500));
    assert!(
        e.evidence
            .ends_with("; eval support@v2: tools tool-call 100% (4/4)"),
        "{}",
        e.evidence
    );
}

#[tokio::test(start_paused = true)]
async fn a_canary_version_further_below_the_baseline_than_its_eval_drop_rolls_back_above_its_floor()
{
    let c = cfg();
    let mut s = State::new(&c);
    let now = signalbox_core::clock::unix_secs();
    let floors = vec![Floor {
        min: 0.5,
        ..floors()[0].clone()
    }];
    // 60% meets the suite's floor of 50%, but the baseline answered 100%
    // of the same window's cases: 40 points down, more than 10.
    let view = Scored(vec![
        ("support@v2", now, count(6, 10)),
        ("support@v1", now, count(10, 10)),
    ]);
    let e = s.evaluate(&c, None, Some(&evals(&floors, &view))).unwrap();
    assert_eq!((e.kind, e.to_bp), (EventKind::RolledBack, 0));
    assert!(
        e.evidence.starts_with(
            "eval suite tools scorer tool-call: support@v2 pass rate 60% (6/10) more than 10 \
             points below the baseline support@v1 100% (10/10) (eval-drop 0.1; the suite's \
             min-pass-rate 50%)"
        ),
        "{}",
        e.evidence
    );
    // Within the margin (95% against 100%): no rollback.
    let mut s = State::new(&c);
    let view = Scored(vec![
        ("support@v2", now, count(19, 20)),
        ("support@v1", now, count(20, 20)),
    ]);
    assert_eq!(s.evaluate(&c, None, Some(&evals(&floors, &view))), None);
}

#[tokio::test(start_paused = true)]
async fn below_its_floor_with_a_baseline_as_low_a_version_is_held_and_without_one_rolled_back() {
    let c = cfg();
    let floors = floors();
    let mut s = State::new(&c);
    let started = signalbox_core::clock::unix_secs();
    advance(Duration::from_secs(30)).await;
    // Both versions at 75% in the same window, under the floor of 90%:
    // the model, not the version, regressed. Not rolled back, and a clean
    // traffic window does not promote it either.
    feed(&mut s, Arm::Canary, 5, ok(100.0));
    feed(&mut s, Arm::Baseline, 20, ok(100.0));
    let as_low = Scored(vec![
        ("support@v2", started + 20, count(3, 4)),
        ("support@v1", started + 20, count(3, 4)),
    ]);
    assert_eq!(s.evaluate(&c, None, Some(&evals(&floors, &as_low))), None);
    assert_eq!(
        s.held.as_deref(),
        Some(
            "eval suite tools scorer tool-call: support@v2 pass rate 75% (3/4) below the suite's \
             min-pass-rate 90%, but within eval-drop 0.1 of the baseline support@v1 75% (3/4): \
             not promoted until it meets the floor"
        ),
        "said in `/admin/canary`"
    );
    // The baseline's newest score in the step stands in when it has none
    // in the canary's window.
    let elsewhere = Scored(vec![
        ("support@v2", started + 20, count(3, 4)),
        ("support@v1", started + 10, count(3, 4)),
    ]);
    assert_eq!(
        s.evaluate(&c, None, Some(&evals(&floors, &elsewhere))),
        None
    );
    // The same clean window with the version at its floor: promoted.
    let good = Scored(vec![
        ("support@v2", started + 20, count(4, 4)),
        ("support@v1", started + 20, count(3, 4)),
    ]);
    let e = s.evaluate(&c, None, Some(&evals(&floors, &good))).unwrap();
    assert_eq!(e.kind, EventKind::Promoted, "{}", e.evidence);
    assert_eq!(s.held, None);
    let mut s = State::new(&c);
    // No baseline score at all: the suite's floor is the bar, as before.
    let now = signalbox_core::clock::unix_secs();
    let alone = Scored(vec![("support@v2", now, count(3, 4))]);
    let e = s.evaluate(&c, None, Some(&evals(&floors, &alone))).unwrap();
    assert_eq!(e.kind, EventKind::RolledBack);
    assert!(
        e.evidence.starts_with(
            "eval suite tools scorer tool-call: support@v2 pass rate 75% (3/4) below the \
             suite's min-pass-rate 90% (baseline support@v1 -)"
        ),
        "{}",
        e.evidence
    );
}
