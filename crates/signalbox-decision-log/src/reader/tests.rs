use std::time::Duration;

use rusqlite::Connection;
use signalbox_core::DecisionRecord;

use super::*;
use crate::test_support::{TempDb, failed, now_ms, refused, served};
use crate::{DecisionLog, LogOptions};

/// The records' request ids, in order.
pub(super) fn ids(records: &[DecisionRecord]) -> Vec<&str> {
    records.iter().map(|r| r.request_id.as_str()).collect()
}

/// Six records a second apart, oldest first.
async fn fixture(db: &TempDb) -> (LogReader, u64) {
    let log = DecisionLog::open(
        db.path(),
        LogOptions {
            queue: 64,
            retention: Duration::from_secs(86_400),
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let t = now_ms() - 60_000;
    for record in [
        served("a", t, "acme", "eu-large"),
        served("b", t + 1_000, "globex", "us-small"),
        refused("c", t + 2_000, "acme"),
        failed("d", t + 3_000, "acme", "us-small"),
        served("e", t + 4_000, "acme", "us-small"),
        served("f", t + 5_000, "globex", "eu-large"),
    ] {
        assert!(log.record(record));
    }
    log.flush().await;
    (log.reader().unwrap(), t)
}

#[tokio::test]
async fn query_filters_and_orders_newest_first() {
    let db = TempDb::new("query");
    let (reader, t) = fixture(&db).await;
    let q = |f: fn(&mut Query)| {
        let mut q = Query::default();
        f(&mut q);
        q
    };

    assert_eq!(
        ids(&reader.query(&Query::default()).unwrap()),
        ["f", "e", "d", "c", "b", "a"]
    );
    assert_eq!(
        ids(&reader
            .query(&q(|q| q.tenant = Some("acme".into())))
            .unwrap()),
        ["e", "d", "c", "a"]
    );
    assert_eq!(
        ids(&reader
            .query(&q(|q| q.route = Some("us-small".into())))
            .unwrap()),
        ["e", "d", "b"]
    );
    assert_eq!(
        ids(&reader
            .query(&q(|q| q.outcome = Some("refused".into())))
            .unwrap()),
        ["c"]
    );
    let since = Query {
        since_ms: Some(t + 3_000),
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&since).unwrap()), ["f", "e", "d"]);
    let combined = Query {
        request_id: None,
        tenant: Some("acme".into()),
        route: Some("us-small".into()),
        outcome: Some("served".into()),
        since_ms: Some(t),
        limit: 10,
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&combined).unwrap()), ["e"]);
    assert!(
        reader
            .query(&q(|q| q.tenant = Some("nobody' OR '1'='1".into())))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn query_limit_is_applied_and_clamped() {
    let db = TempDb::new("limit");
    let (reader, _) = fixture(&db).await;
    let limited = |limit| Query {
        limit,
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&limited(2)).unwrap()), ["f", "e"]);
    assert_eq!(ids(&reader.query(&limited(0)).unwrap()), ["f"]);
    assert_eq!(reader.query(&limited(usize::MAX)).unwrap().len(), 6);
    assert_eq!(Query::default().limit, 100);
    assert_eq!(limited(0).effective_limit(), 1);
    assert_eq!(limited(5_000).effective_limit(), 1_000);
}

#[tokio::test]
async fn async_wrappers() {
    let db = TempDb::new("async");
    let (reader, _) = fixture(&db).await;
    let got = reader.get_async("c".to_owned()).await.unwrap().unwrap();
    assert_eq!(got.outcome, "refused");
    assert!(reader.get_async("zzz".to_owned()).await.unwrap().is_none());
    let listed = reader
        .query_async(Query {
            tenant: Some("globex".into()),
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&listed), ["f", "b"]);
}

#[test]
fn reads_a_file_with_no_writer() {
    let db = TempDb::new("no-writer");
    let record = served("solo", now_ms(), "acme", "eu-large");
    {
        // Written and closed the way a stopped gateway leaves it.
        let mut conn = schema::open_writer(db.path()).unwrap();
        let tx = conn.transaction().unwrap();
        let mut store = crate::store::Store::load(&tx).unwrap();
        let mut insert = crate::store::Store::prepare_insert(&tx).unwrap();
        store.insert(&tx, &mut insert, &mut record.clone()).unwrap();
        drop(insert);
        tx.commit().unwrap();
    }
    let reader = LogReader::open(db.path()).unwrap();
    assert_eq!(reader.path(), db.path());
    assert_eq!(reader.get("solo").unwrap(), Some(record));
    assert_eq!(reader.query(&Query::default()).unwrap().len(), 1);
}

#[test]
fn missing_file_is_a_clear_error() {
    let db = TempDb::new("missing");
    let err = LogReader::open(db.path()).unwrap_err();
    assert!(matches!(err, LogError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&db.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("does not exist"), "{message}");
    assert!(
        !db.path().exists(),
        "opening a reader must not create the file"
    );
}

#[test]
fn other_sqlite_files_are_refused() {
    let db = TempDb::new("not-a-log");
    Connection::open(db.path())
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();
    let err = LogReader::open(db.path()).unwrap_err();
    assert!(
        matches!(err, LogError::UnsupportedSchema { found: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a decision log"), "{err}");
}

#[test]
fn reader_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug>() {}
    assert_traits::<LogReader>();
}

/// A record of `tenant` keyed by the gateway's `id`, whose caller sent `caller`.
fn with_caller(id: &str, caller: &str, time_ms: u64, tenant: &str) -> DecisionRecord {
    DecisionRecord {
        caller_request_id: Some(caller.to_owned()),
        ..served(id, time_ms, tenant, "eu-large")
    }
}

#[tokio::test]
async fn a_callers_id_names_records_but_never_replaces_them() {
    let db = TempDb::new("caller-ids");
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
    let t = now_ms();
    let victim = with_caller("g-1", "shared", t, "acme");
    // Another tenant sends the victim's x-request-id, twice.
    let attacker = with_caller("g-2", "shared", t + 1, "globex");
    let again = with_caller("g-3", "shared", t + 2, "globex");
    // ...and one sends the victim's gateway id as its own x-request-id.
    let shadow = with_caller("g-4", "g-1", t + 3, "globex");
    for r in [&victim, &attacker, &again, &shadow] {
        assert!(log.record(r.clone()));
    }
    log.flush().await;
    let reader = log.reader().unwrap();

    assert_eq!(reader.get("g-1").unwrap(), Some(victim.clone()));
    assert_eq!(
        ids(&reader.find("shared", None).unwrap()),
        ["g-3", "g-2", "g-1"]
    );
    assert_eq!(ids(&reader.find("shared", Some("acme")).unwrap()), ["g-1"]);
    assert_eq!(
        ids(&reader.find("shared", Some("globex")).unwrap()),
        ["g-3", "g-2"]
    );
    assert!(reader.find("shared", Some("initech")).unwrap().is_empty());
    // The gateway's id wins over a caller's id equal to it.
    assert_eq!(reader.find("g-1", None).unwrap(), [victim]);
    assert_eq!(ids(&reader.find("g-1", Some("globex")).unwrap()), ["g-4"]);
    assert!(reader.find("nope", None).unwrap().is_empty());
    assert!(reader.get("shared").unwrap().is_none());

    let by_id = |id: &str| Query {
        request_id: Some(id.into()),
        ..Query::default()
    };
    assert_eq!(
        ids(&reader.query(&by_id("shared")).unwrap()),
        ["g-3", "g-2", "g-1"]
    );
    assert_eq!(ids(&reader.query(&by_id("g-1")).unwrap()), ["g-4", "g-1"]);
    let listed = reader
        .find_async("shared".into(), Some("acme".into()))
        .await
        .unwrap();
    assert_eq!(ids(&listed), ["g-1"]);
}

#[tokio::test]
async fn a_version_1_file_is_read_then_migrated_in_place() {
    let db = TempDb::new("migrate");
    let t = now_ms();
    let old = served("caller-chosen", t, "acme", "eu-large");
    {
        // The file exactly as a schema-1 build left it: keyed by the
        // caller's id, with no caller-id column.
        let conn = Connection::open(db.path()).unwrap();
        conn.execute_batch(schema::LEGACY[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO decisions
                (request_id, time_ms, tenant, route, outcome, status, policy_version, record)
             VALUES (?1, ?2, 'acme', 'eu-large', 'served', 200, 'v1', ?3)",
            rusqlite::params![
                old.request_id,
                schema::to_sql_ms(t),
                serde_json::to_string(&old).unwrap()
            ],
        )
        .unwrap();
    }

    // A reader never migrates; it reads the old file as it is.
    let reader = LogReader::open(db.path()).unwrap();
    assert_eq!(
        reader.find("caller-chosen", None).unwrap(),
        std::slice::from_ref(&old)
    );
    assert!(reader.find("other", None).unwrap().is_empty());
    let q = Query {
        request_id: Some("caller-chosen".into()),
        ..Query::default()
    };
    assert_eq!(reader.query(&q).unwrap(), std::slice::from_ref(&old));

    // The writer migrates it: old rows keep their key, new ones have both ids.
    let log = DecisionLog::open(
        db.path(),
        LogOptions {
            queue: 8,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let conn = Connection::open(db.path()).unwrap();
    assert_eq!(schema::user_version(&conn).unwrap(), schema::SCHEMA_VERSION);
    let new = with_caller("g-1", "caller-chosen", t + 1, "globex");
    assert!(log.record(new.clone()));
    log.flush().await;
    assert_eq!(log.stats().write_errors, 0);
    assert_eq!(reader.get("caller-chosen").unwrap(), Some(old.clone()));
    assert_eq!(reader.find("caller-chosen", None).unwrap(), [old]);
    assert_eq!(reader.find("caller-chosen", Some("globex")).unwrap(), [new]);
    assert_eq!(ids(&reader.query(&q).unwrap()), ["g-1", "caller-chosen"]);
}

#[tokio::test]
async fn query_by_every_shared_identifier_and_a_time_range() {
    let db = TempDb::new("facets");
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
    let mut x = served("x", t, "acme", "eu-large");
    x.model_version = Some("gpt-4o-2024-08".into());
    x.prompt_version = Some("support@v2".into());
    x.policy_version = "v2".into();
    x.degraded = vec!["fallback-route".into()];
    x.operator_actions = vec!["act-1".into()];
    x.signals = vec![signalbox_core::SignalRecord {
        name: "intent".into(),
        value: "action".into(),
        source: signalbox_core::SignalSource::Header,
        detail: None,
    }];
    let mut y = served("y", t + 1_000, "acme", "us-small");
    y.alias = Some("chat-small".into());
    y.provider = Some("anthropic".into());
    for r in [x, y] {
        assert!(log.record(r));
    }
    log.flush().await;
    let reader = log.reader().unwrap();
    let by = |facet: Facet| Query {
        facets: vec![facet],
        ..Query::default()
    };
    for (facet, want) in [
        (Facet::Alias("chat-small".into()), vec!["y"]),
        (Facet::Provider("openai".into()), vec!["x"]),
        (Facet::ModelVersion("gpt-4o-2024-08".into()), vec!["x"]),
        (Facet::PromptVersion("support@v2".into()), vec!["x"]),
        (Facet::PolicyVersion("v1".into()), vec!["y"]),
        (Facet::Intent("action".into()), vec!["x"]),
        (Facet::Degraded("fallback-route".into()), vec!["x"]),
        (Facet::OperatorAction("act-1".into()), vec!["x"]),
        (Facet::OperatorAction("act-2".into()), vec![]),
        (Facet::Alias("x' OR '1'='1".into()), vec![]),
    ] {
        assert_eq!(
            ids(&reader.query(&by(facet.clone())).unwrap()),
            want,
            "{facet:?}"
        );
    }
    let window = Query {
        since_ms: Some(t),
        until_ms: Some(t + 1_000),
        ..Query::default()
    };
    assert_eq!(
        ids(&reader.query(&window).unwrap()),
        ["x"],
        "until is exclusive"
    );
    let both = Query {
        facets: vec![
            Facet::Provider("openai".into()),
            Facet::OperatorAction("act-1".into()),
        ],
        ..Query::default()
    };
    assert_eq!(ids(&reader.query(&both).unwrap()), ["x"]);
}
