//! Owns the summary of one time window of the log, what `what-changed`
//! compares: which policy versions, model versions (per route) and prompt
//! versions served, which admin calls were made (operator actions from the
//! audit table), and the request metrics (count, error rate, refusals,
//! p50/p95 latency, cost, degradations). Aggregated over the whole window, not a
//! page of records: one pass over the combination index counts every
//! record; everything but the latencies and costs comes from the
//! combinations (skips included).

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::Serialize;

use crate::reader::aggregate::Latencies;
use crate::reader::rows::Selection;
use crate::reader::stats;
use crate::{AuditEntry, Facet, LogError, Query};

/// What one window of the log holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowSummary {
    /// Requests in the window.
    pub requests: u64,
    /// Share of requests not served (refused, rejected, failed), 0–1.
    pub error_rate: f64,
    /// Share of requests refused (policy, limits, budget, privacy,
    /// fail-closed: outcome `refused`), 0–1; part of `error_rate`.
    pub refused_rate: f64,
    /// Median latency of served requests, ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile latency of served requests, ms.
    pub p95_ms: Option<u64>,
    /// Total cost, USD.
    pub cost_usd: f64,
    /// Share of requests served by a degraded path, 0–1.
    pub degraded_rate: f64,
    /// Requests per policy version.
    pub policy_versions: BTreeMap<String, u64>,
    /// Requests per `route model-version` that served.
    pub model_versions: BTreeMap<String, u64>,
    /// Requests per prompt version (`id@version`).
    pub prompt_versions: BTreeMap<String, u64>,
    /// Routes skipped, per `route kind` (`us-large circuit_open`,
    /// `eu-large operator`): breaker, cooldown and operator transitions as
    /// the requests met them.
    pub skips: BTreeMap<String, u64>,
    /// Operator actions created or reverted in the window (audit entries).
    pub operator_calls: Vec<AuditEntry>,
}

/// The window `[since_ms, until_ms)`, optionally only one alias's requests.
pub(crate) fn summarize(
    path: &std::path::Path,
    conn: &Connection,
    since_ms: u64,
    until_ms: u64,
    alias: Option<&str>,
) -> Result<WindowSummary, LogError> {
    let q = Query {
        since_ms: Some(since_ms),
        until_ms: Some(until_ms),
        facets: alias
            .map(|a| Facet::Alias(a.to_owned()))
            .into_iter()
            .collect(),
        ..Query::default()
    };
    let sel = Selection::of(conn, &q)?;
    let mut s = WindowSummary::default();
    let (mut failed, mut refused, mut degraded) = (0, 0, 0);
    let mut latencies = Latencies::default();
    for (combo, latency, n, cost) in stats::stats(path, conn, &sel)? {
        let Some(c) = sel.all.get(&combo) else {
            continue;
        };
        s.requests += n;
        s.cost_usd += cost / 1e9;
        *s.policy_versions
            .entry(c.policy_version.clone())
            .or_default() += n;
        if let (Some(route), Some(model)) = (&c.route, &c.model_version) {
            *s.model_versions
                .entry(format!("{route} {model}"))
                .or_default() += n;
        }
        for skip in c.skipped() {
            *s.skips.entry(skip.to_owned()).or_default() += n;
        }
        if let Some(p) = &c.prompt_version {
            *s.prompt_versions.entry(p.clone()).or_default() += n;
        }
        if c.served() {
            latencies.add(latency, n);
        } else {
            failed += n;
        }
        if c.outcome == "refused" {
            refused += n;
        }
        if c.degraded.is_some() {
            degraded += n;
        }
    }
    if s.requests > 0 {
        s.error_rate = failed as f64 / s.requests as f64;
        s.refused_rate = refused as f64 / s.requests as f64;
        s.degraded_rate = degraded as f64 / s.requests as f64;
    }
    s.p50_ms = latencies.percentile(0.5);
    s.p95_ms = latencies.percentile(0.95);
    s.operator_calls = audit_between(conn, since_ms, until_ms)?;
    Ok(s)
}

/// Audit entries of the window that changed routing: operator actions
/// (created or reverted) and the gateway's own events (role `system`:
/// quality transitions, canary steps).
fn audit_between(
    conn: &Connection,
    since_ms: u64,
    until_ms: u64,
) -> Result<Vec<AuditEntry>, LogError> {
    let entries = crate::audit::read_between(conn, since_ms, until_ms)?;
    Ok(entries
        .into_iter()
        .filter(|e| e.action.is_some() || e.role == crate::SYSTEM_ROLE)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::test_support::{TempDb, failed, now_ms, served};
    use crate::{DecisionLog, LogOptions};

    #[tokio::test]
    async fn a_window_counts_versions_metrics_and_operator_actions() {
        let db = TempDb::new("window");
        let options = LogOptions {
            queue: 16,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        };
        let log = DecisionLog::open(db.path(), options).unwrap();
        let t = now_ms() - 60_000;
        let mut a = served("a", t, "acme", "eu-large");
        a.model_version = Some("m-1".into());
        a.degraded = vec!["fallback-route".into()];
        let mut b = served("b", t + 1_000, "acme", "eu-large");
        b.model_version = Some("m-1".into());
        b.latency_ms = 100;
        b.skipped = vec![signalbox_core::SkipRecord::new(
            "us-large",
            signalbox_core::SkipKind::CircuitOpen,
            "circuit open",
        )];
        let mut other = served("c", t + 2_000, "acme", "eu-large");
        other.alias = Some("chat-small".into());
        let mut refused = failed("e", t + 4_000, "acme", "eu-large");
        refused.outcome = "refused".into();
        for r in [
            a,
            b,
            failed("d", t + 3_000, "acme", "eu-large"),
            other,
            refused,
        ] {
            assert!(log.record(r));
        }
        log.flush().await;
        let entry = AuditEntry {
            time_ms: t + 500,
            who: "oncall".into(),
            role: "operator".into(),
            method: "POST".into(),
            path: "/admin/actions".into(),
            action: Some("act-1".into()),
            reason: Some("incident".into()),
            status: 201,
            detail: "created: drain route eu-large".into(),
        };
        log.audit(entry.clone()).await.unwrap();
        let reader = log.reader().unwrap();
        let s = reader.summary(t, t + 10_000, Some("chat")).unwrap();
        assert_eq!(s.requests, 4, "only chat's");
        assert!((s.error_rate - 2.0 / 4.0).abs() < 1e-9);
        assert!((s.refused_rate - 1.0 / 4.0).abs() < 1e-9);
        assert!((s.degraded_rate - 1.0 / 4.0).abs() < 1e-9);
        assert_eq!(s.model_versions.get("eu-large m-1"), Some(&2));
        assert_eq!(s.policy_versions.get("v1"), Some(&4));
        assert_eq!((s.p50_ms, s.p95_ms), (Some(412), Some(412)));
        assert_eq!(s.operator_calls, [entry]);
        assert_eq!(s.skips.get("us-large circuit_open"), Some(&1));
        assert!((s.cost_usd - 0.0024).abs() < 1e-9);
        let empty = reader.summary(t + 20_000, t + 30_000, None).unwrap();
        assert_eq!(empty.requests, 0);
        assert!(empty.operator_calls.is_empty());
    }
}
