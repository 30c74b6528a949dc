//! Owns the summary of one time window of the log, what `what-changed`
//! compares: which policy versions, model versions (per route) and prompt
//! versions served, which admin calls were made (operator actions from the
//! audit table), and the request metrics (count, error rate, p50/p95
//! latency, cost, degradations). Aggregated by SQLite over the window, not
//! by reading a page of records, so a busy window is summarised whole.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;

use crate::{AuditEntry, LogError, schema};

/// What one window of the log holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WindowSummary {
    /// Requests in the window.
    pub requests: u64,
    /// Share of requests not served (refused, rejected, failed), 0–1.
    pub error_rate: f64,
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
    conn: &Connection,
    since_ms: u64,
    until_ms: u64,
    alias: Option<&str>,
) -> Result<WindowSummary, LogError> {
    let mut where_ = String::from("time_ms >= ?1 AND time_ms < ?2");
    let mut args = vec![
        Value::Integer(schema::to_sql_ms(since_ms)),
        Value::Integer(schema::to_sql_ms(until_ms)),
    ];
    if let Some(a) = alias {
        where_.push_str(" AND json_extract(record, '$.alias') = ?3");
        args.push(Value::Text(a.to_owned()));
    }
    let counts = |expr: &str| {
        let sql = format!(
            "SELECT {expr} AS k, count(*) FROM decisions WHERE {where_} AND k IS NOT NULL GROUP BY k"
        );
        grouped(conn, &sql, &args)
    };
    let skips_sql = format!(
        "SELECT json_extract(s.value, '$.route') || ' ' || json_extract(s.value, '$.kind') AS k, count(*)
         FROM decisions, json_each(decisions.record, '$.skipped') AS s
         WHERE {where_} AND k IS NOT NULL GROUP BY k"
    );
    let mut summary = WindowSummary {
        skips: grouped(conn, &skips_sql, &args)?,
        policy_versions: counts("policy_version")?,
        model_versions: counts("route || ' ' || json_extract(record, '$.model_version')")?,
        prompt_versions: counts("json_extract(record, '$.prompt_version')")?,
        ..WindowSummary::default()
    };
    totals(conn, &where_, &args, &mut summary)?;
    latencies(conn, &where_, &args, &mut summary)?;
    summary.operator_calls = audit_between(conn, since_ms, until_ms)?;
    Ok(summary)
}

/// Runs a `SELECT key, count(*) … GROUP BY key`.
fn grouped(
    conn: &Connection,
    sql: &str,
    args: &[Value],
) -> Result<BTreeMap<String, u64>, LogError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (k, n) = row?;
        out.insert(k, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

fn totals(
    conn: &Connection,
    where_: &str,
    args: &[Value],
    s: &mut WindowSummary,
) -> Result<(), LogError> {
    let sql = format!(
        "SELECT count(*), coalesce(sum(outcome != 'served'), 0),
                coalesce(sum(json_extract(record, '$.cost_usd')), 0.0),
                coalesce(sum(json_array_length(record, '$.degraded') > 0), 0)
         FROM decisions WHERE {where_}"
    );
    let (n, failed, cost, degraded): (i64, i64, f64, i64) =
        conn.query_row(&sql, params_from_iter(args.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    s.requests = u64::try_from(n).unwrap_or(0);
    if n > 0 {
        s.error_rate = failed as f64 / n as f64;
        s.degraded_rate = degraded as f64 / n as f64;
    }
    s.cost_usd = cost;
    Ok(())
}

fn latencies(
    conn: &Connection,
    where_: &str,
    args: &[Value],
    s: &mut WindowSummary,
) -> Result<(), LogError> {
    let sql = format!(
        "SELECT json_extract(record, '$.latency_ms') AS l FROM decisions
         WHERE {where_} AND outcome = 'served' AND l IS NOT NULL ORDER BY l"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), |r| r.get::<_, i64>(0))?;
    let mut all = Vec::new();
    for l in rows {
        all.push(u64::try_from(l?).unwrap_or(0));
    }
    s.p50_ms = crate::reader::percentile(&all, 0.5);
    s.p95_ms = crate::reader::percentile(&all, 0.95);
    Ok(())
}

/// Audit entries of operator actions (created or reverted) in the window.
fn audit_between(
    conn: &Connection,
    since_ms: u64,
    until_ms: u64,
) -> Result<Vec<AuditEntry>, LogError> {
    let entries = crate::audit::read_between(conn, since_ms, until_ms)?;
    Ok(entries.into_iter().filter(|e| e.action.is_some()).collect())
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
        for r in [a, b, failed("d", t + 3_000, "acme", "eu-large"), other] {
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
        assert_eq!(s.requests, 3, "only chat's");
        assert!((s.error_rate - 1.0 / 3.0).abs() < 1e-9);
        assert!((s.degraded_rate - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.model_versions.get("eu-large m-1"), Some(&2));
        assert_eq!(s.policy_versions.get("v1"), Some(&3));
        assert_eq!((s.p50_ms, s.p95_ms), (Some(412), Some(412)));
        assert_eq!(s.operator_calls, [entry]);
        assert_eq!(s.skips.get("us-large circuit_open"), Some(&1));
        assert!((s.cost_usd - 0.0024).abs() < 1e-9);
        let empty = reader.summary(t + 20_000, t + 30_000, None).unwrap();
        assert_eq!(empty.requests, 0);
        assert!(empty.operator_calls.is_empty());
    }
}
