//! The reader's aggregates (`group_by`) checked against the records:
//! per shared identifier, over narrow and wide windows, through the index
//! for rare values, and from running totals kept through purges.

use std::time::Duration;

use super::tests::ids;
use super::*;
use crate::test_support::{TempDb, failed, now_ms, served};
use crate::{DecisionLog, LogOptions};

/// Each group's key and count, in order.
fn keyed(groups: &[Group]) -> Vec<(&str, u64)> {
    groups.iter().map(|g| (g.key.as_str(), g.count)).collect()
}

#[tokio::test]
async fn aggregates_group_by_a_shared_identifier() {
    let db = TempDb::new("aggregate");
    let log = DecisionLog::open(
        db.path(),
        LogOptions {
            queue: 16,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let t = now_ms() - 10_000;
    let tools = |value: &str| signalbox_core::SignalRecord {
        name: "tools".into(),
        value: value.to_owned().into(),
        source: signalbox_core::SignalSource::Body,
        detail: None,
    };
    let mut a = served("a", t, "acme", "eu-large");
    a.latency_ms = 100;
    a.signals = vec![tools("lookup")];
    let mut b = served("b", t + 1, "acme", "eu-large");
    b.latency_ms = 300;
    b.degraded = vec!["fallback-route".into()];
    b.signals = vec![tools("none")];
    let mut c = served("c", t + 2, "acme", "us-small");
    c.provider = Some("anthropic".into());
    for r in [a, b, c, failed("d", t + 3, "acme", "us-small")] {
        assert!(log.record(r));
    }
    log.flush().await;
    let reader = log.reader().unwrap();
    let groups = reader
        .aggregate(&Query::default(), GroupBy::Provider)
        .unwrap();
    assert_eq!(keyed(&groups), [("openai", 2), ("-", 1), ("anthropic", 1)]);
    let openai = &groups[0];
    assert_eq!((openai.p50_ms, openai.p95_ms), (Some(300), Some(300)));
    assert_eq!(openai.degraded, 1);
    assert!((openai.cost_usd - 0.0024).abs() < 1e-9);
    assert!(
        (groups[1].error_rate - 1.0).abs() < 1e-9,
        "the failed one has no provider"
    );
    let by_route = reader
        .aggregate(
            &Query {
                route: Some("us-small".into()),
                ..Query::default()
            },
            GroupBy::Outcome,
        )
        .unwrap();
    let keys: Vec<&str> = by_route.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["failed", "served"]);
    let with_tools = Query {
        facets: vec![Facet::Tools(true)],
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&with_tools).unwrap()), ["a"]);
    let tools_groups = reader.aggregate(&Query::default(), GroupBy::Tools).unwrap();
    assert_eq!(keyed(&tools_groups), [("-", 2), ("false", 1), ("true", 1)]);
    let by_step = reader.aggregate(&Query::default(), GroupBy::Degraded);
    let by_step = by_step.unwrap();
    assert_eq!(keyed(&by_step), [("-", 3), ("fallback-route", 1)]);
    assert_eq!(by_step[1].degraded, 1);
    assert_eq!(GroupBy::parse("degraded"), Some(GroupBy::Degraded));
    assert_eq!(GroupBy::parse("model_version"), Some(GroupBy::ModelVersion));
    assert_eq!(GroupBy::parse("nope"), None);
}

/// A window that is a small part of the log is read along the table, a
/// large one through the combination index: both count the same.
#[tokio::test]
async fn aggregates_of_narrow_and_wide_windows_agree_with_the_records() {
    let db = TempDb::new("windows");
    let log = DecisionLog::open(
        db.path(),
        LogOptions {
            queue: 64,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let t = now_ms() - 100_000;
    for i in 0..40 {
        let tenant = if i % 4 == 0 { "globex" } else { "acme" };
        let mut r = served(&format!("w-{i:02}"), t + i * 1_000, tenant, "eu-large");
        r.latency_ms = 100 + i;
        assert!(log.record(r));
    }
    log.flush().await;
    let reader = log.reader().unwrap();
    let count = |since: u64| {
        let q = Query {
            since_ms: Some(t + since),
            ..Query::default()
        };
        let groups = reader.aggregate(&q, GroupBy::Tenant).unwrap();
        groups
            .iter()
            .map(|g| (g.key.clone(), g.count, g.p50_ms))
            .collect::<Vec<_>>()
    };
    // The last 4 s of 40: narrow. Records 36..39: 36 is globex.
    assert_eq!(
        count(36_000),
        [
            ("acme".to_owned(), 3, Some(138)),
            ("globex".to_owned(), 1, Some(136))
        ]
    );
    // Everything: wide.
    assert_eq!(
        count(0),
        [
            ("acme".to_owned(), 30, Some(121)),
            ("globex".to_owned(), 10, Some(120))
        ]
    );
}

/// A value rare among the newest rows is read through the combination
/// index (ids first, then only those rows); it finds the same records.
#[tokio::test]
async fn a_rare_value_is_found_through_the_index() {
    let db = TempDb::new("rare");
    let log = DecisionLog::open(
        db.path(),
        LogOptions {
            queue: 1024,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let t = now_ms() - 100_000;
    assert!(log.record(served("old-1", t, "initech", "eu-large")));
    assert!(log.record(served("old-2", t + 1, "initech", "eu-large")));
    for i in 0..500 {
        assert!(log.record(served(&format!("n-{i:03}"), t + 10 + i, "acme", "eu-large")));
    }
    log.flush().await;
    let reader = log.reader().unwrap();
    let q = Query {
        tenant: Some("initech".into()),
        limit: 1,
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&q).unwrap()), ["old-2"]);
    let all = Query { limit: 10, ..q };
    assert_eq!(ids(&reader.query(&all).unwrap()), ["old-2", "old-1"]);
}

/// An aggregate over the whole log reads the writer's running totals; they
/// agree with counting the rows, and lose what retention deletes.
#[tokio::test]
async fn whole_log_aggregates_read_running_totals_kept_through_purges() {
    let db = TempDb::new("totals");
    let keep_day = LogOptions {
        queue: 64,
        retention: Duration::from_secs(86_400),
        max_bytes: 0,
        priority: Default::default(),
    };
    let t = now_ms() - 60_000;
    let old = now_ms() - 3 * 86_400_000;
    {
        let log = DecisionLog::open(
            db.path(),
            LogOptions {
                retention: Duration::ZERO,
                ..keep_day.clone()
            },
        )
        .unwrap();
        for i in 0..12 {
            let at = if i < 4 { old + i } else { t + i };
            let mut r = served(&format!("x-{i:02}"), at, "acme", "eu-large");
            r.latency_ms = 100 + i;
            assert!(log.record(r));
        }
        log.flush().await;
        let reader = log.reader().unwrap();
        let whole = reader
            .aggregate(&Query::default(), GroupBy::Tenant)
            .unwrap();
        assert_eq!((whole[0].count, whole[0].p50_ms), (12, Some(106)));
        assert!((whole[0].cost_usd - 12.0 * 0.0012).abs() < 1e-9);
        // A window (not the whole log) counts rows: the same figures.
        let q = Query {
            since_ms: Some(old + 1),
            ..Query::default()
        };
        let window = reader.aggregate(&q, GroupBy::Tenant).unwrap();
        assert_eq!(window[0].count, 11);
    }
    // Reopened with a day's retention: the four old records go, and with
    // them their share of the totals.
    let log = DecisionLog::open(db.path(), keep_day).unwrap();
    let whole = log
        .reader()
        .unwrap()
        .aggregate(&Query::default(), GroupBy::Tenant)
        .unwrap();
    assert_eq!((whole[0].count, whole[0].p50_ms), (8, Some(108)));
    assert!((whole[0].cost_usd - 8.0 * 0.0012).abs() < 1e-9);
}
