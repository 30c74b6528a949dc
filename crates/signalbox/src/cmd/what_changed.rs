//! `signalbox what-changed`: compares a window of the decision log with the
//! one just before it and lists what differs, most likely causes first:
//! policy versions applied, model versions the providers reported per route,
//! prompt versions, operator actions taken (from the audit trail), routes
//! newly skipped (circuit open, cooldown, operator…), then the metrics that
//! moved (error rate, p95 latency, cost per request, degradations). "Why did quality drop at 14:05?" is
//! `signalbox what-changed --around 2026-12-06T14:05:00Z`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use signalbox_decision_log::{LogReader, WindowSummary};

use super::explain::Source;

/// Which windows to compare.
#[derive(Debug, Args)]
pub struct Windows {
    /// A moment to look around: the window after it against the one before.
    #[arg(long, conflicts_with_all = ["since", "until"])]
    around: Option<String>,
    /// With --around: each window's length.
    #[arg(long, default_value = "30m")]
    window: String,
    /// The window to explain starts here (RFC 3339 or a duration ago); the
    /// window before it, of the same length, is the baseline. Default 30m.
    #[arg(long)]
    since: Option<String>,
    /// The window ends here (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Only this alias's requests.
    #[arg(long)]
    alias: Option<String>,
}

/// One difference, ranked by kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// `policy`, `model`, `prompt`, `operator`, `health`, `metric`.
    pub kind: &'static str,
    /// What changed, in words.
    pub what: String,
    /// For a new policy version: the lines its configuration summary
    /// added (`+`) and dropped (`-`) against the version serving before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

/// Prints what changed between the two windows.
pub fn run(source: &Source, w: Windows, json: bool) -> anyhow::Result<ExitCode> {
    let now = signalbox_core::clock::unix_ms();
    let (before, after) = windows(&w, now)?;
    let reader = LogReader::open(&source.db_path()?)?;
    let alias = w.alias.as_deref();
    let a = reader.summary(before.0, before.1, alias)?;
    let b = reader.summary(after.0, after.1, alias)?;
    let mut changes = compare(&a, &b);
    config_diffs(&reader, &a, &b, &mut changes)?;
    if json {
        let out = serde_json::json!({"before": a, "after": b, "changes": changes});
        super::emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "{} requests before, {} after ({} each)\n",
        a.requests,
        b.requests,
        humantime::format_duration(std::time::Duration::from_millis(after.1 - after.0))
    );
    if changes.is_empty() {
        text.push_str("nothing changed\n");
    }
    for (i, c) in changes.iter().enumerate() {
        let _ = writeln!(text, "{}. [{}] {}", i + 1, c.kind, c.what);
        for line in &c.detail {
            let _ = writeln!(text, "     {line}");
        }
    }
    super::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Each new policy version's configuration against the one that served
/// most before it, from the summaries the gateway kept.
fn config_diffs(
    reader: &LogReader,
    a: &WindowSummary,
    b: &WindowSummary,
    changes: &mut [Change],
) -> anyhow::Result<()> {
    let Some((old, _)) = a.policy_versions.iter().max_by_key(|(_, n)| **n) else {
        return Ok(());
    };
    let Some(old_summary) = reader.config_summary(old)? else {
        return Ok(());
    };
    for new in b
        .policy_versions
        .keys()
        .filter(|v| !a.policy_versions.contains_key(*v))
    {
        let Some(new_summary) = reader.config_summary(new)? else {
            continue;
        };
        let head = format!("policy version {new} appeared");
        if let Some(c) = changes.iter_mut().find(|c| c.what.starts_with(&head)) {
            c.detail = signalbox_decision_log::config_diff(&old_summary, &new_summary);
            c.detail.insert(0, format!("against {old}:"));
        }
    }
    Ok(())
}

/// (before, after) as `[start, end)` in ms since the epoch.
type Span = (u64, u64);

fn windows(w: &Windows, now: u64) -> anyhow::Result<(Span, Span)> {
    let time = |t: &str| super::decisions::time(t, now);
    let (start, end) = match &w.around {
        Some(t) => {
            let at = time(t)?;
            let len = humantime::parse_duration(&w.window)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))?;
            (at, at.saturating_add(len))
        }
        None => (
            time(w.since.as_deref().unwrap_or("30m"))?,
            w.until.as_deref().map_or(Ok(now), time)?,
        ),
    };
    if end <= start {
        bail!("the window is empty: its end is not after its start");
    }
    let len = end - start;
    Ok(((start.saturating_sub(len), start), (start, end)))
}

/// What differs from `a` (before) to `b` (after), causes first.
pub fn compare(a: &WindowSummary, b: &WindowSummary) -> Vec<Change> {
    let mut out = Vec::new();
    versions(
        &mut out,
        "policy",
        "policy version",
        &a.policy_versions,
        &b.policy_versions,
    );
    models(&mut out, &a.model_versions, &b.model_versions);
    versions(
        &mut out,
        "prompt",
        "prompt",
        &a.prompt_versions,
        &b.prompt_versions,
    );
    for e in b.operator_calls.iter().filter(|e| e.action.is_none()) {
        out.push(Change {
            kind: "event",
            what: format!("{}: {}", e.who, e.detail),
            detail: Vec::new(),
        });
    }
    for e in b.operator_calls.iter().filter(|e| e.action.is_some()) {
        let what = format!(
            "operator action {} by {} ({}): {}{}",
            e.action.as_deref().unwrap_or("-"),
            e.who,
            e.role,
            e.detail,
            e.reason
                .as_deref()
                .map_or_else(String::new, |r| format!(" — {r}"))
        );
        out.push(Change {
            kind: "operator",
            what,
            detail: Vec::new(),
        });
    }
    for (key, n) in b.skips.iter().filter(|(k, _)| !a.skips.contains_key(*k)) {
        let Some((route, kind)) = key.split_once(' ') else {
            continue;
        };
        out.push(Change {
            detail: Vec::new(),
            kind: "health",
            what: format!("route {route} skipped ({kind}) for {n} requests (none before)"),
        });
    }
    metrics(&mut out, a, b);
    out
}

fn versions(
    out: &mut Vec<Change>,
    kind: &'static str,
    name: &str,
    a: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
) {
    for (v, n) in b.iter().filter(|(v, _)| !a.contains_key(*v)) {
        out.push(Change {
            kind,
            what: format!("{name} {v} appeared ({n} requests)"),
            detail: Vec::new(),
        });
    }
    for v in a.keys().filter(|v| !b.contains_key(*v)) {
        out.push(Change {
            kind,
            what: format!("{name} {v} no longer seen"),
            detail: Vec::new(),
        });
    }
}

/// Model versions per route: a route reporting a version it did not before.
fn models(out: &mut Vec<Change>, a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) {
    let split = |k: &str| k.split_once(' ').map(|(r, v)| (r.to_owned(), v.to_owned()));
    for (key, n) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
        let Some((route, version)) = split(key) else {
            continue;
        };
        let was: Vec<String> = a
            .keys()
            .filter_map(|k| split(k))
            .filter(|(r, _)| *r == route)
            .map(|(_, v)| v)
            .collect();
        let was = if was.is_empty() {
            String::new()
        } else {
            format!(" (was {})", was.join(", "))
        };
        out.push(Change {
            detail: Vec::new(),
            kind: "model",
            what: format!("route {route} reports model version {version}{was} ({n} requests)"),
        });
    }
}

fn metrics(out: &mut Vec<Change>, a: &WindowSummary, b: &WindowSummary) {
    let mut moved = |what: String| {
        out.push(Change {
            kind: "metric",
            what,
            detail: Vec::new(),
        })
    };
    if (b.error_rate - a.error_rate).abs() >= 0.05 {
        moved(format!(
            "error rate {:.1}% → {:.1}%",
            a.error_rate * 100.0,
            b.error_rate * 100.0
        ));
    }
    if (b.degraded_rate - a.degraded_rate).abs() >= 0.05 {
        moved(format!(
            "degraded answers {:.1}% → {:.1}%",
            a.degraded_rate * 100.0,
            b.degraded_rate * 100.0
        ));
    }
    if let (Some(x), Some(y)) = (a.p95_ms, b.p95_ms)
        && (y as f64 > x as f64 * 1.5 || (y as f64) < x as f64 / 1.5)
    {
        moved(format!("p95 latency {x} ms → {y} ms"));
    }
    let per = |s: &WindowSummary| (s.requests > 0).then(|| s.cost_usd / s.requests as f64);
    if let (Some(x), Some(y)) = (per(a), per(b))
        && x > 0.0
        && (y > x * 1.5 || y < x / 1.5)
    {
        moved(format!("cost per request ${x:.5} → ${y:.5}"));
    }
}

#[cfg(test)]
mod tests;
