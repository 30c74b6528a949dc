//! Owns aggregates over the records a [`Query`] selects, grouped by one
//! shared identifier: count, error rate, p50/p95 latency of served
//! requests, cost and degradations per tenant, alias, route, provider,
//! model version, prompt version, policy version, intent, outcome or tools.
//! SQLite groups; percentiles are read from the sorted latencies.

use std::collections::BTreeMap;

use rusqlite::params_from_iter;
use serde::Serialize;

use super::{LogReader, Query, filter};
use crate::LogError;

/// What to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Tenant id.
    Tenant,
    /// The alias asked for.
    Alias,
    /// The serving (or last tried) route.
    Route,
    /// The serving provider.
    Provider,
    /// The serving route's model version.
    ModelVersion,
    /// The registered prompt, `id@version`.
    PromptVersion,
    /// The policy version.
    PolicyVersion,
    /// The request's intent.
    Intent,
    /// `served`, `refused`, `rejected`, `failed`.
    Outcome,
    /// Whether the request asked for tools (`true` / `false`).
    Tools,
}

impl GroupBy {
    /// Every grouping, by its name.
    pub const ALL: [(&'static str, Self); 10] = [
        ("tenant", Self::Tenant),
        ("alias", Self::Alias),
        ("route", Self::Route),
        ("provider", Self::Provider),
        ("model_version", Self::ModelVersion),
        ("prompt_version", Self::PromptVersion),
        ("policy_version", Self::PolicyVersion),
        ("intent", Self::Intent),
        ("outcome", Self::Outcome),
        ("tools", Self::Tools),
    ];

    /// The grouping named `name` (`model_version`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
    }

    fn expr(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Route => "route",
            Self::Outcome => "outcome",
            Self::PolicyVersion => "policy_version",
            Self::Alias => "json_extract(record, '$.alias')",
            Self::Provider => "json_extract(record, '$.provider')",
            Self::ModelVersion => "json_extract(record, '$.model_version')",
            Self::PromptVersion => "json_extract(record, '$.prompt_version')",
            Self::Intent => {
                "(SELECT json_extract(value, '$.value') FROM json_each(record, '$.signals') \
                 WHERE json_extract(value, '$.name') = 'intent')"
            }
            Self::Tools => {
                "(SELECT CASE WHEN json_extract(value, '$.value') = 'none' THEN 'false' ELSE 'true' END \
                 FROM json_each(record, '$.signals') WHERE json_extract(value, '$.name') = 'tools')"
            }
        }
    }
}

/// One group's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    /// The identifier's value (`-` when the records have none).
    pub key: String,
    /// Requests.
    pub count: u64,
    /// Share not served, 0–1.
    pub error_rate: f64,
    /// Median latency of served requests, ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile latency of served requests, ms.
    pub p95_ms: Option<u64>,
    /// Total cost, USD.
    pub cost_usd: f64,
    /// Requests served by a degraded path.
    pub degraded: u64,
}

impl LogReader {
    /// The records `q` selects (its limit ignored), grouped by `by`,
    /// largest group first.
    pub fn aggregate(&self, q: &Query, by: GroupBy) -> Result<Vec<Group>, LogError> {
        let conn = self.connect()?;
        let (where_, values) = filter(&conn, q)?;
        let key = format!("coalesce({}, '-')", by.expr());
        let sql = format!(
            "SELECT {key} AS g, count(*), coalesce(sum(outcome != 'served'), 0),
                    coalesce(sum(json_extract(record, '$.cost_usd')), 0.0),
                    coalesce(sum(json_array_length(record, '$.degraded') > 0), 0)
             FROM decisions{where_} GROUP BY g ORDER BY count(*) DESC, g"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(values.iter()), |r| {
            let n: i64 = r.get(1)?;
            let failed: i64 = r.get(2)?;
            Ok(Group {
                key: r.get(0)?,
                count: u64::try_from(n).unwrap_or(0),
                error_rate: if n > 0 { failed as f64 / n as f64 } else { 0.0 },
                cost_usd: r.get(3)?,
                degraded: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                ..Group::default()
            })
        })?;
        let mut groups = Vec::new();
        for g in rows {
            groups.push(g?);
        }
        let joiner = if where_.is_empty() { " WHERE" } else { " AND" };
        let sql = format!(
            "SELECT {key} AS g, json_extract(record, '$.latency_ms') AS l FROM decisions{where_}{joiner}
             outcome = 'served' AND l IS NOT NULL ORDER BY g, l"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(values.iter()), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut latencies: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for row in rows {
            let (g, l) = row?;
            latencies
                .entry(g)
                .or_default()
                .push(u64::try_from(l).unwrap_or(0));
        }
        for g in &mut groups {
            if let Some(ls) = latencies.get(&g.key) {
                g.p50_ms = percentile(ls, 0.5);
                g.p95_ms = percentile(ls, 0.95);
            }
        }
        Ok(groups)
    }
}

/// The `q` quantile of sorted values (nearest rank).
pub(crate) fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied()
}
