//! Owns the report of a run: outcome classes, attempts per request,
//! upstream calls per upstream over time buckets, the gateway's added
//! latency (p50/p99) and every invariant's verdict; rendered as a table for
//! people or serialised as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::facts::{Facts, OutcomeClass};
use crate::invariants::Verdict;
use crate::scenario::Scenario;

/// Time buckets of the calls-over-time row.
const BUCKETS: usize = 8;

/// One scenario's report.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The scenario.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// The time factor it ran with.
    pub time_scale: f64,
    /// Wall time of the run, ms.
    pub wall_ms: u64,
    /// Requests sent.
    pub requests: usize,
    /// Requests per outcome class (`ok`, `degraded`, `5xx`, …).
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Mean attempts per request (from the decision records).
    pub attempts_mean: f64,
    /// Most attempts of one request.
    pub attempts_max: usize,
    /// Width of one time bucket, ms.
    pub bucket_ms: u64,
    /// Upstream calls per time bucket, per upstream.
    pub calls: Vec<UpstreamCalls>,
    /// Gateway time added to successful JSON answers (head time minus the
    /// time spent in upstream attempts), ms.
    pub added_latency_p50_ms: f64,
    /// The same, 99th percentile.
    pub added_latency_p99_ms: f64,
    /// What the gateway did, counted from answers and records.
    pub gateway: GatewayDid,
    /// Every invariant's verdict.
    pub invariants: Vec<Verdict>,
    /// Whether every invariant held.
    pub held: bool,
}

/// What the gateway did over the run, counted: the statuses and error
/// codes it answered, the outcomes of its attempts, the routes it skipped
/// (by kind) and why attempt loops stopped early.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GatewayDid {
    /// Answers per status (`none`: no head).
    pub statuses: BTreeMap<String, usize>,
    /// Error answers per `error.code`.
    pub error_codes: BTreeMap<String, usize>,
    /// Attempts per outcome class.
    pub attempts: BTreeMap<String, usize>,
    /// Skipped routes per kind.
    pub skips: BTreeMap<String, usize>,
    /// Early stops per reason.
    pub stops: BTreeMap<String, usize>,
    /// Per tenant (when the load names more than one): `succeeded/sent`.
    pub tenants: BTreeMap<String, String>,
}

fn gateway_did(facts: &Facts) -> GatewayDid {
    let mut did = GatewayDid::default();
    let count = |map: &mut BTreeMap<String, usize>, key: String| *map.entry(key).or_default() += 1;
    let mut per_tenant: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &facts.requests {
        let tally = per_tenant.entry(r.tenant.as_str()).or_default();
        tally.0 += usize::from(r.succeeded());
        tally.1 += 1;
    }
    if per_tenant.len() > 1 {
        for (tenant, (ok, sent)) in per_tenant {
            did.tenants
                .insert(tenant.to_owned(), format!("{ok}/{sent}"));
        }
    }
    for r in &facts.requests {
        let status = r
            .answer
            .status
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        count(&mut did.statuses, status);
        if let Some(code) = &r.answer.body.error_code {
            count(&mut did.error_codes, code.clone());
        }
        let Some(rec) = facts.record(r) else { continue };
        for a in &rec.attempts {
            count(&mut did.attempts, a.outcome.label().to_owned());
        }
        for s in &rec.skipped {
            count(&mut did.skips, s.kind.label().to_owned());
        }
        if let Some(stop) = &rec.stopped {
            count(&mut did.stops, stop.clone());
        }
    }
    did
}

/// One upstream's calls over time.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamCalls {
    /// The mock.
    pub upstream: String,
    /// The routes behind it.
    pub routes: Vec<String>,
    /// Calls per bucket.
    pub buckets: Vec<usize>,
}

/// Summarises a run.
pub fn summarise(
    scenario: &Scenario,
    facts: &Facts,
    invariants: Vec<Verdict>,
    wall: Duration,
) -> ScenarioReport {
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for r in &facts.requests {
        *outcomes.entry(r.class().label()).or_default() += 1;
    }
    let attempts: Vec<usize> = facts
        .requests
        .iter()
        .filter_map(|r| facts.record(r).map(|rec| rec.attempts.len()))
        .collect();
    let attempts_mean = if attempts.is_empty() {
        0.0
    } else {
        attempts.iter().sum::<usize>() as f64 / attempts.len() as f64
    };
    let span = facts
        .calls
        .iter()
        .map(|c| c.at)
        .chain(facts.requests.iter().map(|r| r.sent_at + r.elapsed))
        .max()
        .unwrap_or(scenario.load.duration)
        .max(scenario.load.duration);
    let bucket = (span / BUCKETS as u32).max(Duration::from_millis(1));
    let calls = scenario_upstreams(facts)
        .into_iter()
        .map(|(upstream, routes)| {
            let mut buckets = vec![0; BUCKETS];
            for c in facts.calls.iter().filter(|c| c.upstream == upstream) {
                let i = (c.at.as_nanos() / bucket.as_nanos()) as usize;
                buckets[i.min(BUCKETS - 1)] += 1;
            }
            UpstreamCalls {
                upstream,
                routes,
                buckets,
            }
        })
        .collect();
    let mut added = added_latencies(facts);
    added.sort_by(f64::total_cmp);
    ScenarioReport {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        time_scale: scenario.time_scale,
        wall_ms: wall.as_millis() as u64,
        requests: facts.requests.len(),
        outcomes,
        attempts_mean,
        attempts_max: attempts.iter().copied().max().unwrap_or(0),
        bucket_ms: bucket.as_millis() as u64,
        calls,
        added_latency_p50_ms: percentile(&added, 0.50),
        added_latency_p99_ms: percentile(&added, 0.99),
        gateway: gateway_did(facts),
        held: invariants.iter().all(|v| v.held),
        invariants,
    }
}

/// Upstreams (in route order, then the rest) with the routes behind each.
fn scenario_upstreams(facts: &Facts) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in &facts.routes {
        let Some(u) = &r.upstream else { continue };
        match out.iter_mut().find(|(n, _)| n == u) {
            Some((_, routes)) => routes.push(r.id.clone()),
            None => out.push((u.clone(), vec![r.id.clone()])),
        }
    }
    for c in &facts.calls {
        if !out.iter().any(|(n, _)| *n == c.upstream) {
            out.push((c.upstream.clone(), Vec::new()));
        }
    }
    out
}

fn added_latencies(facts: &Facts) -> Vec<f64> {
    facts
        .requests
        .iter()
        .filter(|r| r.succeeded() && !r.stream)
        .filter_map(|r| {
            let head = r.head_after?;
            let upstream: Duration = facts.record(r)?.attempts.iter().map(|a| a.elapsed).sum();
            Some(head.saturating_sub(upstream).as_secs_f64() * 1000.0)
        })
        .collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The table for people: one summary row per scenario, then each
/// scenario's calls over time and verdicts.
pub fn table(reports: &[ScenarioReport]) -> String {
    let mut out = String::new();
    let classes: Vec<&str> = OutcomeClass::ALL.iter().map(|c| c.label()).collect();
    let _ = write!(out, "{:<28} {:>5}", "scenario", "reqs");
    for c in &classes {
        let _ = write!(out, " {c:>9}");
    }
    let _ = writeln!(
        out,
        " {:>11} {:>15} {:>10}",
        "att/req max", "added p50/p99", "invariants"
    );
    for r in reports {
        let _ = write!(out, "{:<28} {:>5}", r.scenario, r.requests);
        for c in &classes {
            let _ = write!(out, " {:>9}", r.outcomes.get(c).copied().unwrap_or(0));
        }
        let held = r.invariants.iter().filter(|v| v.held).count();
        let verdict = if r.held { "held" } else { "BROKEN" };
        let _ = writeln!(
            out,
            " {:>7.2} {:>3} {:>7.1}/{:<7.1} {held}/{} {verdict}",
            r.attempts_mean,
            r.attempts_max,
            r.added_latency_p50_ms,
            r.added_latency_p99_ms,
            r.invariants.len()
        );
    }
    for r in reports {
        details(&mut out, r);
    }
    out
}

fn details(out: &mut String, r: &ScenarioReport) {
    let _ = writeln!(
        out,
        "\n{} (time scale {}, {:.1} s): {}",
        r.scenario,
        r.time_scale,
        r.wall_ms as f64 / 1000.0,
        r.description
    );
    let _ = writeln!(out, "  upstream calls per {} ms:", r.bucket_ms);
    for u in &r.calls {
        let label = if u.routes.is_empty() {
            u.upstream.clone()
        } else {
            format!("{} ({})", u.upstream, u.routes.join(", "))
        };
        let cells: Vec<String> = u.buckets.iter().map(|b| format!("{b:>4}")).collect();
        let _ = writeln!(out, "    {label:<36}{}", cells.join(""));
    }
    let g = &r.gateway;
    for (label, map) in [
        ("statuses", &g.statuses),
        ("error codes", &g.error_codes),
        ("attempts", &g.attempts),
        ("skipped", &g.skips),
        ("stopped", &g.stops),
    ] {
        if !map.is_empty() {
            let cells: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(out, "  {label}: {}", cells.join(", "));
        }
    }
    if !g.tenants.is_empty() {
        let cells: Vec<String> = g.tenants.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  succeeded per tenant: {}", cells.join(", "));
    }
    for v in &r.invariants {
        if v.held {
            let _ = writeln!(out, "  held    {:<24} ({} checked)", v.invariant, v.checked);
        } else {
            let who = v.first_offender.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "  BROKEN  {:<24} {} of {}; first {who}: {}",
                v.invariant, v.violations, v.checked, v.detail
            );
        }
    }
}
