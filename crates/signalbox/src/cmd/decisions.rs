//! `signalbox decisions`: lists decision records from the decision log,
//! filtered by tenant, route, outcome, time and every shared identifier
//! (alias, provider, model version, prompt version, policy version, intent,
//! degradation step, operator action) — the filters of
//! `GET /admin/decisions`, read from the file as `explain` reads it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use signalbox_decision_log::{Facet, Group, GroupBy, LogReader, Query, one_line};

use super::explain::Source;

/// The filters (each optional; all given must hold).
#[derive(Debug, Args)]
pub struct Filters {
    /// Only this tenant's requests.
    #[arg(long)]
    tenant: Option<String>,
    /// Only requests served by (or last tried on) this route.
    #[arg(long)]
    route: Option<String>,
    /// `served`, `refused`, `rejected` or `failed`.
    #[arg(long)]
    outcome: Option<String>,
    /// Since: an RFC 3339 time (`2026-12-06T14:05:00Z`) or a duration ago (`30m`).
    #[arg(long)]
    since: Option<String>,
    /// Until (exclusive): an RFC 3339 time or a duration ago.
    #[arg(long)]
    until: Option<String>,
    /// The alias asked for.
    #[arg(long)]
    alias: Option<String>,
    /// The serving provider.
    #[arg(long)]
    provider: Option<String>,
    /// The serving route's model version.
    #[arg(long)]
    model_version: Option<String>,
    /// The registered prompt, `id@version`.
    #[arg(long)]
    prompt_version: Option<String>,
    /// The policy version.
    #[arg(long)]
    policy_version: Option<String>,
    /// The request's intent.
    #[arg(long)]
    intent: Option<String>,
    /// A degradation step taken (`fallback-route`, `tools-disabled`, …).
    #[arg(long)]
    degraded: Option<String>,
    /// An operator action id: the requests it changed.
    #[arg(long)]
    action: Option<String>,
    /// Whether the request asked for tools.
    #[arg(long)]
    tools: Option<bool>,
    /// Aggregate by this identifier instead of listing (tenant, alias,
    /// route, provider, model_version, prompt_version, policy_version,
    /// intent, outcome, tools).
    #[arg(long, value_parser = parse_group)]
    group_by: Option<GroupBy>,
    /// At most this many (newest first; 1–1000).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Prints the matching records, one line each (or as JSON).
pub fn run(source: &Source, filters: Box<Filters>, json: bool) -> anyhow::Result<ExitCode> {
    let path = source.db_path()?;
    let reader = LogReader::open(&path)?;
    let now = signalbox_core::clock::unix_ms();
    let group_by = filters.group_by;
    let query = query(*filters, now)?;
    if let Some(by) = group_by {
        let groups = reader
            .aggregate(&query, by)
            .with_context(|| format!("reading {}", path.display()))?;
        let text = if json {
            format!("{}\n", serde_json::to_string_pretty(&groups)?)
        } else {
            table(&groups)
        };
        super::emit(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let records = reader
        .query(&query)
        .with_context(|| format!("reading {}", path.display()))?;
    if json {
        super::emit(&format!("{}\n", serde_json::to_string_pretty(&records)?))?;
    } else {
        let lines: String = records
            .iter()
            .map(|r| format!("{}\n", one_line(r)))
            .collect();
        super::emit(&lines)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn query(f: Filters, now_ms: u64) -> anyhow::Result<Query> {
    let facets = [
        f.alias.map(Facet::Alias),
        f.provider.map(Facet::Provider),
        f.model_version.map(Facet::ModelVersion),
        f.prompt_version.map(Facet::PromptVersion),
        f.policy_version.map(Facet::PolicyVersion),
        f.intent.map(Facet::Intent),
        f.degraded.map(Facet::Degraded),
        f.action.map(Facet::OperatorAction),
        f.tools.map(Facet::Tools),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(Query {
        request_id: None,
        tenant: f.tenant,
        route: f.route,
        outcome: f.outcome,
        since_ms: f.since.map(|s| time(&s, now_ms)).transpose()?,
        until_ms: f.until.map(|s| time(&s, now_ms)).transpose()?,
        facets,
        limit: f.limit,
    })
}

fn parse_group(name: &str) -> Result<GroupBy, String> {
    GroupBy::parse(name).ok_or_else(|| {
        let known: Vec<&str> = GroupBy::ALL.iter().map(|(n, _)| *n).collect();
        format!("unknown identifier (known: {})", known.join(", "))
    })
}

/// One line per group: value, count, error rate, p50/p95, cost, degraded.
fn table(groups: &[Group]) -> String {
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
    let mut out = String::from("value\trequests\terrors\tp50\tp95\tcost\tdegraded\n");
    for g in groups {
        out.push_str(&format!(
            "{}\t{}\t{:.1}%\t{}\t{}\t${:.4}\t{}\n",
            g.key,
            g.count,
            g.error_rate * 100.0,
            ms(g.p50_ms),
            ms(g.p95_ms),
            g.cost_usd,
            g.degraded
        ));
    }
    out
}

/// An RFC 3339 time, or a duration before `now_ms`, as ms since the epoch.
pub(crate) fn time(text: &str, now_ms: u64) -> anyhow::Result<u64> {
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(now_ms.saturating_sub(millis(ago)));
    }
    match humantime::parse_rfc3339_weak(text) {
        Ok(t) => Ok(t
            .duration_since(std::time::UNIX_EPOCH)
            .map(millis)
            .unwrap_or(0)),
        Err(_) => {
            bail!("{text:?} is neither a time (2026-12-06T14:05:00Z) nor a duration ago (30m)")
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_absolute_or_ago() {
        let now = 1_765_030_000_000;
        assert_eq!(time("30m", now).unwrap(), now - 30 * 60_000);
        assert_eq!(
            time("2025-12-06T14:00:00Z", now).unwrap(),
            1_765_029_600_000
        );
        assert!(time("yesterday-ish", now).is_err());
    }
}
