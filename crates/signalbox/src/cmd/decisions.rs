//! `signalbox decisions`: lists decision records from the decision log,
//! filtered by tenant, route, outcome, time and every shared identifier
//! (alias, provider, model version, prompt version, policy version, intent,
//! degradation step, operator action) — the filters of
//! `GET /admin/decisions`, read from the file as `explain` reads it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use signalbox_decision_log::{Facet, LogReader, Query, one_line};

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
    /// At most this many (newest first; 1–1000).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Prints the matching records, one line each (or as JSON).
pub fn run(source: &Source, filters: Filters, json: bool) -> anyhow::Result<ExitCode> {
    let path = source.db_path()?;
    let reader = LogReader::open(&path)?;
    let now = signalbox_core::clock::unix_ms();
    let query = query(filters, now)?;
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
