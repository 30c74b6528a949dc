//! Test fixtures: unique temporary database files and hand-built records.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use signalbox_core::{
    AttemptRecord, CandidateRecord, DecisionRecord, OutcomeClass, ProviderName, RouteId, Usage,
    Verdict,
};

/// A database path under the temp dir, removed (with its WAL files) on drop.
pub(crate) struct TempDb {
    path: PathBuf,
}

impl TempDb {
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = signalbox_core::clock::system_now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "signalbox-decision-log-{}-{n}-{nanos}-{name}.db",
            std::process::id()
        ));
        Self { path }
    }

    /// A log on this file: a small queue, no retention, no size cap.
    pub(crate) fn log(&self) -> crate::DecisionLog {
        let options = crate::LogOptions {
            queue: 16,
            retention: std::time::Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        };
        crate::DecisionLog::open(self.path(), options).expect("the log opens")
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    signalbox_core::clock::unix_ms()
}

pub(crate) fn attempt(
    route: &str,
    outcome: OutcomeClass,
    status: Option<u16>,
    ms: u64,
    detail: &str,
) -> AttemptRecord {
    AttemptRecord {
        route: RouteId::new(route),
        provider: ProviderName::new("openai"),
        outcome,
        status,
        elapsed: Duration::from_millis(ms),
        sent_after: Duration::ZERO,
        detail: detail.to_owned(),
        retry_after_secs: None,
        provider_error: None,
    }
}

pub(crate) fn verdict(constraint: &str, ok: bool, detail: &str) -> Verdict {
    Verdict {
        constraint: constraint.to_owned().into(),
        ok,
        detail: detail.to_owned(),
    }
}

pub(crate) fn candidate(
    route: &str,
    verdicts: Vec<Verdict>,
    score: Option<f64>,
) -> CandidateRecord {
    CandidateRecord {
        route: route.to_owned(),
        eligible: verdicts.iter().all(|v| v.ok),
        verdicts,
        score,
        cost_estimate_usd: score.map(|_| 0.0021),
    }
}

/// A served request: `route` answered on the first attempt.
pub(crate) fn served(id: &str, time_ms: u64, tenant: &str, route: &str) -> DecisionRecord {
    DecisionRecord {
        request_id: id.to_owned(),
        time_ms,
        tenant: tenant.to_owned(),
        policy_version: "v1".to_owned(),
        alias: Some("chat".to_owned()),
        candidates: vec![candidate(
            route,
            vec![verdict("region", true, "region eu ∈ [eu]")],
            Some(0.9),
        )],
        ranking: vec![route.to_owned()],
        failure_mode: "fail_closed".to_owned(),
        chosen: Some(route.to_owned()),
        provider: Some("openai".to_owned()),
        attempts: vec![attempt(route, OutcomeClass::Success, Some(200), 400, "ok")],
        outcome: "served".to_owned(),
        status: 200,
        usage: Some(Usage {
            prompt_tokens: 12,
            completion_tokens: 34,
        }),
        cost_usd: Some(0.0012),
        latency_ms: 412,
        ..DecisionRecord::default()
    }
}

/// A refused request: no route was eligible, nothing was tried.
pub(crate) fn refused(id: &str, time_ms: u64, tenant: &str) -> DecisionRecord {
    DecisionRecord {
        request_id: id.to_owned(),
        time_ms,
        tenant: tenant.to_owned(),
        policy_version: "v1".to_owned(),
        alias: Some("chat".to_owned()),
        outcome: "refused".to_owned(),
        status: 403,
        error: Some("no eligible route".to_owned()),
        ..DecisionRecord::default()
    }
}

/// A failed request: every attempt failed, the last on `route`.
pub(crate) fn failed(id: &str, time_ms: u64, tenant: &str, route: &str) -> DecisionRecord {
    DecisionRecord {
        request_id: id.to_owned(),
        time_ms,
        tenant: tenant.to_owned(),
        policy_version: "v1".to_owned(),
        alias: Some("chat".to_owned()),
        attempts: vec![attempt(
            route,
            OutcomeClass::ServerError,
            Some(502),
            30,
            "bad gateway",
        )],
        outcome: "failed".to_owned(),
        status: 502,
        error: Some("all upstreams failed".to_owned()),
        latency_ms: 31,
        ..DecisionRecord::default()
    }
}

/// A routine record shaped like the gateway's: gateway and trace ids of
/// 32 hex digits, 14 signals (a session id among them), two candidates
/// whose verdicts quote the request's token count, one attempt. `i` varies
/// what differs between requests decided alike.
pub(crate) fn gateway_like(i: u64, time_ms: u64) -> DecisionRecord {
    let signal = |name: &str, value: String| signalbox_core::SignalRecord {
        name: name.to_owned().into(),
        value: value.into(),
        source: signalbox_core::SignalSource::Body,
        detail: None,
    };
    let tokens = 10 + i % 500;
    let mut signals: Vec<_> = [
        ("tenant", "acme"),
        ("plan", "pro"),
        ("alias", "chat"),
        ("region", "[eu, us]"),
        ("risk_tier", "public"),
        ("intent", "general"),
        ("tools", "none"),
        ("images", "false"),
        ("json_mode", "false"),
        ("stream", "false"),
        ("irreversible", "false"),
    ]
    .into_iter()
    .map(|(n, v)| signal(n, v.to_owned()))
    .collect();
    signals.push(signal("max_tokens", "256".to_owned()));
    signals.push(signal("prompt_tokens", tokens.to_string()));
    signals.push(signal("session", format!("sess-{:x}", i * 7919)));
    let verdicts = |route: &str| {
        vec![
            verdict("region", true, &format!("region eu ∈ [eu, us] ({route})")),
            verdict(
                "context_window",
                true,
                &format!("context_window 128000 ≥ {tokens}"),
            ),
        ]
    };
    let mut record = served(
        &format!(
            "{:032x}",
            0x0193_c2a4_0000_0000_0000_0000_0000_0000_u128 + u128::from(i)
        ),
        time_ms,
        "acme",
        "eu-large",
    );
    record.trace_id = Some(format!("{:032x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15));
    record.signals = signals;
    record.candidates = vec![
        candidate("eu-large", verdicts("eu-large"), Some(0.9)),
        candidate("us-large", verdicts("us-large"), Some(0.7)),
    ];
    // Divisions, so that each value has a short decimal text (serde_json
    // reads long ones back to within a bit, not exactly).
    record.candidates[1].cost_estimate_usd = Some(tokens as f64 / 4e5);
    record.ranking = vec!["eu-large".to_owned(), "us-large".to_owned()];
    record.model_version = Some("gpt-4o-2024-08-06".to_owned());
    record.latency_ms = 100 + i % 900;
    record.usage = Some(Usage {
        prompt_tokens: tokens,
        completion_tokens: 5 + i % 300,
    });
    record.cost_usd = Some((tokens * 3 + (5 + i % 300) * 12) as f64 / 1e7);
    record
}
