use super::*;

fn cfg() -> BreakerConfig {
    BreakerConfig {
        window: Duration::from_secs(10),
        min_requests: 4,
        error_rate: 0.5,
        consecutive_failures: 3,
        open_for: Duration::from_secs(5),
        half_open_trials: 1,
        latency_slo: Some(Duration::from_millis(100)),
        latency_open_factor: 3.0,
        slow_start: Duration::from_secs(10),
    }
}

fn allowed(a: &Admission) -> bool {
    matches!(a, Admission::Allowed { .. })
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_then_half_open_trial_closes() {
    let h = RouteHealth::new(cfg());
    for _ in 0..3 {
        assert!(allowed(&h.admit()));
        h.record_failure("server_error");
    }
    assert_eq!(h.state(), BreakerState::Open);
    assert!(!h.usable());
    let Admission::Skip(SkipKind::CircuitOpen, why) = h.admit() else {
        panic!("open circuit admitted a request")
    };
    assert!(
        why.contains("circuit open") && why.contains("3 failures in a row"),
        "{why}"
    );

    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(h.usable());
    assert_eq!(h.admit(), Admission::Trial);
    // One trial at a time.
    assert!(
        matches!(h.admit(), Admission::Skip(SkipKind::HalfOpenFull, w) if w.contains("half-open"))
    );
    h.record_success(Duration::from_millis(10));
    assert_eq!(h.state(), BreakerState::Closed);
    // Slow start: the route comes back at a fraction of its traffic.
    let Admission::Allowed { ramp, .. } = h.admit() else {
        panic!("closed circuit refused")
    };
    assert!((0.09..0.2).contains(&ramp), "{ramp}");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        h.admit(),
        Admission::Allowed {
            ramp: 1.0,
            slow: false
        }
    );
}

#[tokio::test(start_paused = true)]
async fn failed_trial_reopens() {
    let h = RouteHealth::new(cfg());
    for _ in 0..3 {
        h.record_failure("timeout");
    }
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(h.admit(), Admission::Trial);
    h.record_failure("timeout");
    assert_eq!(h.state(), BreakerState::Open);
    assert_eq!(h.view().times_opened, 2);
    assert!(h.view().reason.contains("half-open trial failed"));
}

#[tokio::test(start_paused = true)]
async fn error_rate_over_the_window_opens() {
    let h = RouteHealth::new(cfg());
    // Alternating: never 3 in a row, but 50% errors once 4 requests are in.
    h.record_success(Duration::from_millis(10));
    h.record_failure("server_error");
    h.record_success(Duration::from_millis(10));
    assert_eq!(h.state(), BreakerState::Closed);
    h.record_failure("server_error");
    assert_eq!(h.state(), BreakerState::Open);
    assert!(
        h.view().reason.contains("error rate 2/4"),
        "{}",
        h.view().reason
    );
}

#[tokio::test(start_paused = true)]
async fn old_outcomes_slide_out_of_the_window() {
    let h = RouteHealth::new(cfg());
    h.record_failure("server_error");
    h.record_failure("server_error");
    h.record_success(Duration::from_millis(10));
    tokio::time::advance(Duration::from_secs(11)).await;
    h.record_success(Duration::from_millis(10));
    h.record_failure("server_error");
    assert_eq!(h.view().window_requests, 2);
    assert_eq!(h.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn slow_route_is_degraded_then_opened_when_far_over() {
    let h = RouteHealth::new(cfg());
    for _ in 0..4 {
        h.record_success(Duration::from_millis(150));
    }
    assert_eq!(
        h.admit(),
        Admission::Allowed {
            ramp: 1.0,
            slow: true
        }
    );
    assert!(h.view().slow);
    for _ in 0..4 {
        h.record_success(Duration::from_millis(400));
    }
    assert_eq!(h.state(), BreakerState::Open);
    assert!(h.view().reason.contains("SLO"), "{}", h.view().reason);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_cools_down_until_reset_without_counting_as_error() {
    let h = RouteHealth::new(cfg());
    h.record(
        OutcomeClass::RateLimited,
        Duration::ZERO,
        Some(Duration::from_secs(2)),
    );
    assert!(
        matches!(h.admit(), Admission::Skip(SkipKind::Cooldown, w) if w.contains("quota cooldown"))
    );
    assert_eq!(h.consecutive_failures(), 0);
    assert_eq!(h.state(), BreakerState::Closed);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(allowed(&h.admit()));
}

#[tokio::test(start_paused = true)]
async fn request_rejections_do_not_touch_health() {
    let h = RouteHealth::new(cfg());
    for _ in 0..10 {
        h.record(OutcomeClass::RequestRejected, Duration::ZERO, None);
    }
    assert_eq!(h.view().window_requests, 0);
    assert_eq!(h.state(), BreakerState::Closed);
}

#[test]
fn latency_is_a_moving_average() {
    let h = RouteHealth::default();
    assert_eq!(h.latency(), None);
    h.record_success(Duration::from_millis(100));
    assert_eq!(h.latency(), Some(Duration::from_millis(100)));
    h.record_success(Duration::from_millis(200));
    let l = h.latency().map(|d| d.as_secs_f64()).unwrap_or_default();
    assert!((l - 0.120).abs() < 1e-6, "{l}");
}

#[test]
fn p95_of_the_latest_samples() {
    let mut w = window::LatencyWindow::default();
    for ms in 1..=100u64 {
        w.push(Duration::from_millis(ms));
    }
    // The last 64 samples are 37..=100 ms; their p95 is the 61st: 97 ms.
    assert_eq!(w.p95(), Some(Duration::from_millis(97)));
}

/// A store that counts the calls the request path must not make.
#[derive(Debug, Default)]
struct CountingStore {
    open: Arc<signalbox_state::OpenCircuits>,
    lookups: std::sync::atomic::AtomicUsize,
}

impl BreakerStore for CountingStore {
    fn publish_open(&self, route: &str, state: SharedBreaker) {
        self.open.update(|m| {
            m.insert(route.to_owned(), state.clone());
        });
    }

    fn publish_closed(&self, route: &str) {
        self.open.update(|m| {
            m.remove(route);
        });
    }

    fn snapshot(&self) -> Arc<signalbox_state::OpenCircuits> {
        Arc::clone(&self.open)
    }

    fn open_elsewhere(&self, route: &str, replica: u64) -> Option<SharedBreaker> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        self.open.open_elsewhere(route, replica)
    }
}

#[test]
fn admission_reads_open_elsewhere_from_the_snapshot_not_the_store() {
    let store = Arc::new(CountingStore::default());
    let h = RouteHealth::new(cfg());
    h.share("primary", 2, store.clone());
    for _ in 0..100 {
        assert!(allowed(&h.admit()));
    }
    // Another replica opens the route: the snapshot shows it at once.
    store.publish_open(
        "primary",
        SharedBreaker {
            replica: 1,
            open_until_ms: unix_ms() + 60_000,
            reason: "5 failures in a row".into(),
        },
    );
    assert!(matches!(
        h.admit(),
        Admission::Skip(SkipKind::OpenElsewhere, _)
    ));
    assert!(!h.usable());
    assert!(h.available_in().is_some());
    store.publish_closed("primary");
    assert!(allowed(&h.admit()));
    assert_eq!(
        store.lookups.load(Ordering::Relaxed),
        0,
        "no store call per admission"
    );
}

#[tokio::test(start_paused = true)]
async fn operator_actions_force_the_breaker_either_way() {
    use signalbox_core::operator::{Action, Actor, OperatorAction, Role};
    use signalbox_state::{ActionStore, InMemoryActions};
    let store = InMemoryActions::default();
    let h = RouteHealth::new(cfg());
    h.watch_actions("r", store.snapshot());
    let op = |id: &str, action| OperatorAction {
        id: id.into(),
        action,
        who: Actor {
            name: "oncall".into(),
            role: Role::Operator,
        },
        created_ms: unix_ms(),
        expires_ms: Some(unix_ms() + 60_000),
        reason: "incident".into(),
    };
    store
        .create(op("open-1", Action::ForceOpen { route: "r".into() }))
        .await
        .unwrap();
    let Admission::Skip(SkipKind::Operator, why) = h.admit() else {
        panic!("a forced-open route admitted a request")
    };
    assert!(why.contains("open-1"), "{why}");
    assert!(!h.usable());
    store.revert("open-1").await.unwrap();
    assert!(allowed(&h.admit()));

    // A forced-closed breaker admits while the circuit is open.
    for _ in 0..3 {
        h.record_failure("server_error");
    }
    assert!(matches!(
        h.admit(),
        Admission::Skip(SkipKind::CircuitOpen, _)
    ));
    store
        .create(op("close-1", Action::ForceClose { route: "r".into() }))
        .await
        .unwrap();
    assert!(allowed(&h.admit()));
    assert!(h.usable());
    // It expires by itself; the circuit's own state applies again.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(allowed(&h.admit()));
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(!matches!(h.admit(), Admission::Skip(SkipKind::Operator, _)));
}

#[tokio::test(start_paused = true)]
async fn each_transition_is_reported_once_with_its_reason() {
    let h = RouteHealth::new(cfg());
    let (sink, mut rx) = BreakerEvents::channel(16);
    h.report_transitions("us-large", sink);
    for _ in 0..3 {
        h.admit();
        h.record_failure("server_error");
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(h.admit(), Admission::Trial);
    h.record_failure("timeout");
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(h.admit(), Admission::Trial);
    h.record_success(Duration::from_millis(10));
    let mut got = Vec::new();
    while let Ok(e) = rx.try_recv() {
        assert_eq!(&*e.route, "us-large");
        got.push((e.from.as_str(), e.to.as_str(), e.reason));
    }
    let states: Vec<(&str, &str)> = got.iter().map(|(f, t, _)| (*f, *t)).collect();
    assert_eq!(
        states,
        [
            ("closed", "open"),
            ("open", "half-open"),
            ("half-open", "open"),
            ("open", "half-open"),
            ("half-open", "closed"),
        ]
    );
    assert!(got[0].2.contains("3 failures in a row"), "{got:?}");
    assert!(
        got[2].2.contains("half-open trial failed: timeout"),
        "{got:?}"
    );
    assert_eq!(got[4].2, "half-open trial succeeded");
    assert!(rx.try_recv().is_err(), "a peek or a skip reports nothing");
}

#[tokio::test(start_paused = true)]
async fn the_view_reports_the_share_of_each_warned_intent_beside_the_route_wide_one() {
    let h = RouteHealth::new(cfg());
    let v = h.view();
    assert!(v.quality_share_by_intent.is_empty() && v.quality_warning_by_intent.is_empty());
    let json = serde_json::to_value(&v).unwrap();
    assert!(json.get("quality_share_by_intent").is_none(), "{json}");
    h.quality.configure(0.25, Duration::from_secs(60));
    h.quality
        .record_intent_warning("weather", Some("w tool-call 0.90 < 0.95"));
    let v = h.view();
    assert_eq!(v.quality_share, 1.0, "route-wide: every other request");
    assert_eq!(v.quality_share_by_intent.get("weather"), Some(&0.25));
    assert_eq!(
        v.quality_warning_by_intent
            .get("weather")
            .map(String::as_str),
        Some("w tool-call 0.90 < 0.95")
    );
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["quality_share_by_intent"]["weather"], 0.25, "{json}");
}
