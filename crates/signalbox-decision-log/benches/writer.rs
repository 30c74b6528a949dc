//! What the decision log costs per record: queue → render → JSON → SQLite,
//! measured end to end (records sent, then one flush) with a record shaped
//! like the gateway's (14 signals, 2 candidates with verdicts, 1 attempt).

#![expect(clippy::disallowed_methods, reason = "a benchmark measures real time")]
#![expect(clippy::unwrap_used, reason = "benchmark")]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use signalbox_core::{
    AttemptRecord, CandidateRecord, DecisionRecord, OutcomeClass, ProviderName, RouteId,
    SignalRecord, SignalSource, Usage, Verdict,
};
use signalbox_decision_log::{DecisionLog, LogOptions};

fn record() -> DecisionRecord {
    let signal = |name: &str, value: &str| SignalRecord {
        name: name.to_owned().into(),
        value: value.to_owned().into(),
        source: SignalSource::Body,
        detail: None,
    };
    let verdict = |c: &str, d: &str| Verdict {
        constraint: c.to_owned().into(),
        ok: true,
        detail: d.into(),
    };
    let candidate = |r: &str| CandidateRecord {
        route: r.into(),
        eligible: true,
        verdicts: vec![
            verdict("region", "region us ∈ [us, eu] ✓"),
            verdict("risk_tier", "risk tier public ≤ route max restricted ✓"),
            verdict("context_window", "context_window 128000 ≥ 12 ✓"),
        ],
        score: Some(1.0),
        cost_estimate_usd: Some(0.000_31),
    };
    let names = [
        "tenant",
        "plan",
        "alias",
        "region",
        "risk_tier",
        "intent",
        "tools",
        "images",
        "json_mode",
        "stream",
        "max_tokens",
        "prompt_tokens",
        "session",
        "irreversible",
    ];
    DecisionRecord {
        request_id: String::new(),
        time_ms: 1_764_000_000_000,
        tenant: "default".into(),
        policy_version: "0123456789ab".into(),
        alias: Some("chat".into()),
        signals: names.iter().map(|n| signal(n, "value")).collect(),
        rules: Vec::new(),
        rule: None,
        candidates: vec![candidate("primary"), candidate("secondary")],
        ranking: vec!["primary".into(), "secondary".into()],
        failure_mode: "degrade".into(),
        chosen: Some("primary".into()),
        provider: Some("primary".into()),
        model_version: Some("gpt-4o-mini".into()),
        attempts: vec![AttemptRecord {
            route: RouteId::new("primary"),
            provider: ProviderName::new("primary"),
            outcome: OutcomeClass::Success,
            status: Some(200),
            elapsed: Duration::from_micros(300),
            sent_after: Duration::ZERO,
            detail: String::new(),
            retry_after_secs: None,
            provider_error: None,
        }],
        outcome: "served".into(),
        status: 200,
        error: None,
        stream: false,
        usage: Some(Usage {
            prompt_tokens: 12,
            completion_tokens: 5,
        }),
        cost_usd: Some(0.000_004_8),
        latency_ms: 1,
        content: None,
        ..DecisionRecord::default()
    }
}

fn writer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("signalbox-bench-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = DecisionLog::open(
        &dir.join("bench.db"),
        LogOptions {
            queue: 100_000,
            retention: Duration::from_secs(7 * 86_400),
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap();
    let template = record();
    let mut next = 0u64;
    c.bench_function("decision_log/record_and_commit", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                next += 1;
                let mut r = template.clone();
                r.request_id = format!("req-{next}");
                log.record(r);
            }
            rt.block_on(log.flush());
            start.elapsed()
        });
    });
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, writer);
criterion_main!(benches);
