//! `signalbox what-changed`: compares a window of the decision log with the
//! one just before it and prints what differs, most likely causes first
//! (the comparison itself is the decision log's
//! [`LogReader::what_changed`], which `GET /admin/what-changed` answers
//! with too): policy versions applied with their configuration's diff,
//! model versions the providers answered with per route, prompt versions,
//! the gateway's own events (breaker and quality transitions, canary
//! steps), operator actions, routes newly skipped, then the metrics that
//! moved. "Why did quality drop at 14:05?" is
//! `signalbox what-changed --around 2026-12-06T14:05:00Z`. A baseline
//! without traffic is said so, with what the window saw, rather than every
//! version ranked as new.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use signalbox_decision_log::{LogReader, Report, Span, Traffic};

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

/// Prints what changed between the two windows.
pub fn run(source: &Source, w: Windows, json: bool) -> anyhow::Result<ExitCode> {
    let now = signalbox_core::clock::unix_ms();
    let (before, after) = windows(&w, now)?;
    let reader = LogReader::open(&source.db_path()?)?;
    let report = reader.what_changed(before, after, w.alias.as_deref())?;
    if json {
        super::emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    super::emit(&text(&report))?;
    Ok(ExitCode::SUCCESS)
}

/// The report as the terminal shows it: a line of counts, what the window
/// saw when the baseline had no traffic, then one numbered line per change
/// with its detail indented.
fn text(report: &Report) -> String {
    let len = report.after_window.until_ms - report.after_window.since_ms;
    let mut text = format!(
        "{} requests before, {} after ({} each)\n",
        report.before.requests,
        report.after.requests,
        humantime::format_duration(std::time::Duration::from_millis(len))
    );
    if let Some(note) = report.traffic.note() {
        let _ = writeln!(text, "{note}");
        for line in &report.seen {
            let _ = writeln!(text, "   {line}");
        }
    }
    if report.changes.is_empty() && report.traffic != Traffic::NoneBefore {
        text.push_str("nothing changed\n");
    }
    for (i, c) in report.changes.iter().enumerate() {
        let _ = writeln!(text, "{}. [{}] {}", i + 1, c.kind.as_str(), c.what);
        for line in &c.detail {
            let _ = writeln!(text, "     {line}");
        }
    }
    text
}

/// (before, after) from the flags.
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
    Ok(Span::with_baseline(start, end)?)
}

#[cfg(test)]
mod tests;
