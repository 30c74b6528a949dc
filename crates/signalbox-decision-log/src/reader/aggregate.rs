//! Owns aggregates over the records a [`Query`] selects, grouped by one
//! shared identifier: count, error rate, p50/p95 latency of served
//! requests, cost and degradations per tenant, alias, route, provider,
//! model version, prompt version, policy version, intent, outcome, tools or
//! degradation steps.
//! SQLite counts rows per combination and latency in one pass over one
//! index; the combinations map to groups in memory, and percentiles are
//! read exactly from the latency counts.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::rows::Selection;
use super::{LogReader, Query};
use crate::LogError;
use crate::combo::Combo;

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
    /// The degradation steps taken, joined by `+` in the order taken
    /// (`fallback-route+tools-disabled`); `-` for an answer not degraded.
    Degraded,
}

impl GroupBy {
    /// Every grouping, by its name.
    pub const ALL: [(&'static str, Self); 11] = [
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
        ("degraded", Self::Degraded),
    ];

    /// The grouping named `name` (`model_version`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
    }

    /// The group a combination's records fall in (`None`: `-`).
    fn key(self, c: &Combo) -> Option<String> {
        match self {
            Self::Tenant => Some(c.tenant.clone()),
            Self::Alias => c.alias.clone(),
            Self::Route => c.route.clone(),
            Self::Provider => c.provider.clone(),
            Self::ModelVersion => c.model_version.clone(),
            Self::PromptVersion => c.prompt_version.clone(),
            Self::PolicyVersion => Some(c.policy_version.clone()),
            Self::Intent => c.intent.clone(),
            Self::Outcome => Some(c.outcome.clone()),
            Self::Tools => c.tools.map(|t| t.to_string()),
            Self::Degraded => c.degraded_steps(),
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
        let conn = self.connect_current()?;
        let sel = Selection::of(&conn, q)?;
        let counts = if q.request_id.is_some() {
            // A request id names a handful of rows: count those.
            self.select(&conn, q, super::MAX_LIMIT)?
                .iter()
                .map(|r| (r.combo, r.latency_ms, 1, r.cost_nusd.unwrap_or(0) as f64))
                .collect()
        } else {
            super::stats::stats(&self.path, &conn, &sel)?
        };
        let mut groups: HashMap<String, (Group, Latencies)> = HashMap::new();
        for (combo, latency, n, cost) in counts {
            let Some(c) = sel.all.get(&combo) else {
                continue;
            };
            let key = by.key(c).unwrap_or_else(|| "-".to_owned());
            let (g, lat) = groups.entry(key).or_default();
            g.count += n;
            g.cost_usd += cost / 1e9;
            if !c.served() {
                g.error_rate += n as f64;
            } else {
                lat.add(latency, n);
            }
            if c.degraded.is_some() {
                g.degraded += n;
            }
        }
        let mut out: Vec<Group> = groups
            .into_iter()
            .map(|(key, (mut g, lat))| {
                g.key = key;
                g.error_rate = if g.count > 0 {
                    g.error_rate / g.count as f64
                } else {
                    0.0
                };
                g.p50_ms = lat.percentile(0.5);
                g.p95_ms = lat.percentile(0.95);
                g
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        Ok(out)
    }
}

/// Served latencies as counts per value: exact percentiles without
/// holding one value per record.
#[derive(Debug, Default)]
pub(crate) struct Latencies(BTreeMap<u64, u64>);

impl Latencies {
    pub(crate) fn add(&mut self, ms: u64, n: u64) {
        *self.0.entry(ms).or_default() += n;
    }

    /// The `q` quantile (nearest rank), as [`percentile`] over the values.
    pub(crate) fn percentile(&self, q: f64) -> Option<u64> {
        let n: u64 = self.0.values().sum();
        if n == 0 {
            return None;
        }
        let i = ((n as f64 - 1.0) * q).round() as u64;
        let mut seen = 0;
        for (&ms, &count) in &self.0 {
            seen += count;
            if seen > i {
                return Some(ms);
            }
        }
        self.0.keys().next_back().copied()
    }
}
