//! Owns "what changed?": a window of the log compared with the one just
//! before it, the differences ranked most likely cause first: policy
//! versions applied (with the configuration's diff), model versions the
//! providers answered with per route, prompt versions, the gateway's own
//! events (breaker and quality transitions, canary steps), operator
//! actions, routes newly skipped, then the metrics that moved (eval scores
//! such as tool-call validity per route, error rate, refusals,
//! degradations, p95 latency, cost per request). One implementation for
//! `signalbox what-changed` and `GET /admin/what-changed`. A window without
//! requests is no baseline: against it every version would look new (or
//! gone), so versions, skips and metrics are then not compared; the report
//! says so ([`Traffic`]) and lists what the window saw instead.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{LogError, LogReader, WindowSummary};

mod scores;
#[cfg(test)]
mod tests;

/// What kind of difference, in rank order (a cause before its symptoms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A policy version appeared or went.
    Policy,
    /// A route answered with another model version.
    Model,
    /// A prompt version appeared or went.
    Prompt,
    /// One of the gateway's own events (breaker, quality, canary).
    Event,
    /// An operator action created or reverted.
    Operator,
    /// A route newly skipped (circuit open, cooldown, operator…).
    Health,
    /// A metric that moved.
    Metric,
}

impl ChangeKind {
    /// The lower-case word printed in brackets.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Model => "model",
            Self::Prompt => "prompt",
            Self::Event => "event",
            Self::Operator => "operator",
            Self::Health => "health",
            Self::Metric => "metric",
        }
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What kind (the rank).
    pub kind: ChangeKind,
    /// What changed, in words.
    pub what: String,
    /// When it happened (ms since the epoch), for events and actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// For a new policy version: the diff of its configuration against the
    /// version serving before (a unified diff of the text when both texts
    /// were kept, else the summary lines added `+` and dropped `-`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

impl Change {
    fn new(kind: ChangeKind, what: String) -> Self {
        Self {
            kind,
            what,
            at_ms: None,
            detail: Vec::new(),
        }
    }
}

/// A time window `[since_ms, until_ms)`, ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Start (inclusive).
    pub since_ms: u64,
    /// End (exclusive).
    pub until_ms: u64,
}

/// Why two windows cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    /// The end is not after the start.
    #[error("the window is empty: its end ({until_ms}) is not after its start ({since_ms})")]
    Empty {
        /// Start asked for.
        since_ms: u64,
        /// End asked for.
        until_ms: u64,
    },
}

impl Span {
    /// The window `[since_ms, until_ms)`, and the one of the same length
    /// just before it (the baseline): `(before, after)`.
    pub fn with_baseline(since_ms: u64, until_ms: u64) -> Result<(Self, Self), SpanError> {
        if until_ms <= since_ms {
            return Err(SpanError::Empty { since_ms, until_ms });
        }
        let len = until_ms - since_ms;
        let before = Self {
            since_ms: since_ms.saturating_sub(len),
            until_ms: since_ms,
        };
        Ok((before, Self { since_ms, until_ms }))
    }
}

/// Which of the two windows held requests: only with both are versions,
/// skips and metrics compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Traffic {
    /// Both windows held requests: everything is compared.
    Both,
    /// The baseline held none: the window's versions are listed as seen,
    /// not ranked as changes.
    NoneBefore,
    /// The window explained held none (traffic stopped or moved to
    /// another alias).
    NoneAfter,
    /// Neither held any.
    Neither,
}

impl Traffic {
    /// From the two windows' summaries.
    pub fn of(before: &WindowSummary, after: &WindowSummary) -> Self {
        match (before.requests > 0, after.requests > 0) {
            (true, true) => Self::Both,
            (false, true) => Self::NoneBefore,
            (true, false) => Self::NoneAfter,
            (false, false) => Self::Neither,
        }
    }

    /// The sentence the CLI prints when versions and metrics were not
    /// compared.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Self::Both | Self::Neither => None,
            Self::NoneBefore => Some(
                "no traffic in the baseline window: versions and metrics are not compared; seen in the window:",
            ),
            Self::NoneAfter => {
                Some("no traffic in the window: versions and metrics are not compared")
            }
        }
    }
}

/// The two windows, their summaries and what differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The baseline window.
    pub before_window: Span,
    /// The window explained.
    pub after_window: Span,
    /// The baseline's summary.
    pub before: WindowSummary,
    /// The explained window's summary.
    pub after: WindowSummary,
    /// Which windows held requests (versions and metrics are compared
    /// only when both did).
    pub traffic: Traffic,
    /// With [`Traffic::NoneBefore`]: the policy, model and prompt versions
    /// and the skips the window saw, with their counts (not changes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
    /// The differences, ranked.
    pub changes: Vec<Change>,
}

impl LogReader {
    /// What changed from `before` to `after` (only `alias`'s requests when
    /// given; events and actions are the whole gateway's).
    pub fn what_changed(
        &self,
        before: Span,
        after: Span,
        alias: Option<&str>,
    ) -> Result<Report, LogError> {
        let a = self.summary(before.since_ms, before.until_ms, alias)?;
        let b = self.summary(after.since_ms, after.until_ms, alias)?;
        let mut changes = compare(&a, &b);
        config_diffs(self, &a, &b, &mut changes)?;
        // Eval scores are the most specific metric: before the others.
        let moved = scores::score_changes(&self.connect()?, before, after)?;
        let at = changes
            .iter()
            .position(|c| c.kind == ChangeKind::Metric)
            .unwrap_or(changes.len());
        changes.splice(at..at, moved);
        let traffic = Traffic::of(&a, &b);
        let seen = if traffic == Traffic::NoneBefore {
            seen(&b)
        } else {
            Vec::new()
        };
        Ok(Report {
            before_window: before,
            after_window: after,
            before: a,
            after: b,
            traffic,
            seen,
            changes,
        })
    }

    /// [`LogReader::what_changed`] on a blocking thread.
    pub async fn what_changed_async(
        &self,
        before: Span,
        after: Span,
        alias: Option<String>,
    ) -> Result<Report, LogError> {
        let reader = self.clone();
        tokio::task::spawn_blocking(move || reader.what_changed(before, after, alias.as_deref()))
            .await
            .map_err(|_| LogError::Closed)?
    }
}

/// Each new policy version's configuration against the one that served
/// most before it: the text's unified diff when both texts were kept, else
/// the summaries' lines.
fn config_diffs(
    reader: &LogReader,
    a: &WindowSummary,
    b: &WindowSummary,
    changes: &mut [Change],
) -> Result<(), LogError> {
    let Some((old, _)) = a.policy_versions.iter().max_by_key(|(_, n)| **n) else {
        return Ok(());
    };
    for new in b
        .policy_versions
        .keys()
        .filter(|v| !a.policy_versions.contains_key(*v))
    {
        let Some(detail) = config_diff_of(reader, old, new)? else {
            continue;
        };
        let head = format!("policy version {new} appeared");
        if let Some(c) = changes.iter_mut().find(|c| c.what.starts_with(&head)) {
            c.detail = detail;
        }
    }
    Ok(())
}

/// The diff of configuration `new` against `old`, from what was kept.
fn config_diff_of(
    reader: &LogReader,
    old: &str,
    new: &str,
) -> Result<Option<Vec<String>>, LogError> {
    if let (Some(x), Some(y)) = (reader.config_text(old)?, reader.config_text(new)?) {
        let mut out = vec![format!("--- {old}"), format!("+++ {new}")];
        let diff = crate::config_text::unified_diff(&x, &y, 3);
        if diff.is_empty() {
            out.push("(same text: only interpolated ${VAR} values differ)".to_owned());
        }
        out.extend(diff);
        return Ok(Some(out));
    }
    let (Some(x), Some(y)) = (reader.config_summary(old)?, reader.config_summary(new)?) else {
        return Ok(None);
    };
    let mut out = crate::config_diff(&x, &y);
    out.insert(0, format!("against {old}:"));
    Ok(Some(out))
}

/// What differs from `a` (before) to `b` (after), causes first. Versions,
/// skips and metrics only when both windows held requests ([`Traffic`]);
/// the events and operator actions of `b` always.
pub fn compare(a: &WindowSummary, b: &WindowSummary) -> Vec<Change> {
    let mut out = Vec::new();
    let comparable = Traffic::of(a, b) == Traffic::Both;
    if comparable {
        out.extend(versions(
            ChangeKind::Policy,
            "policy version",
            &a.policy_versions,
            &b.policy_versions,
        ));
        models(&mut out, &a.model_versions, &b.model_versions);
        out.extend(versions(
            ChangeKind::Prompt,
            "prompt",
            &a.prompt_versions,
            &b.prompt_versions,
        ));
    }
    events(&mut out, b);
    if comparable {
        skips(&mut out, a, b);
        metrics(&mut out, a, b);
    }
    out
}

/// What a window saw, for a report without a baseline: policy, model and
/// prompt versions and skips, each with its count.
fn seen(b: &WindowSummary) -> Vec<String> {
    let mut out: Vec<String> = b
        .policy_versions
        .iter()
        .map(|(v, n)| format!("policy version {v} ({n} requests)"))
        .collect();
    out.extend(b.model_versions.iter().filter_map(|(k, n)| {
        let (route, version) = split(k)?;
        Some(format!(
            "route {route} model version {version} ({n} requests)"
        ))
    }));
    out.extend(
        b.prompt_versions
            .iter()
            .map(|(p, n)| format!("prompt {p} ({n} requests)")),
    );
    out.extend(b.skips.iter().filter_map(|(k, n)| {
        let (route, kind) = k.split_once(' ')?;
        Some(format!("route {route} skipped ({kind}) for {n} requests"))
    }));
    out
}

/// The gateway's own events, then the operator actions, of window `b`.
fn events(out: &mut Vec<Change>, b: &WindowSummary) {
    for e in b.operator_calls.iter().filter(|e| e.action.is_none()) {
        let mut c = Change::new(ChangeKind::Event, format!("{}: {}", e.who, e.detail));
        c.at_ms = Some(e.time_ms);
        out.push(c);
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
        let mut c = Change::new(ChangeKind::Operator, what);
        c.at_ms = Some(e.time_ms);
        out.push(c);
    }
}

/// Routes newly skipped (`route kind` keys the baseline did not have).
fn skips(out: &mut Vec<Change>, a: &WindowSummary, b: &WindowSummary) {
    for (key, n) in b.skips.iter().filter(|(k, _)| !a.skips.contains_key(*k)) {
        let Some((route, kind)) = key.split_once(' ') else {
            continue;
        };
        out.push(Change::new(
            ChangeKind::Health,
            format!("route {route} skipped ({kind}) for {n} requests (none before)"),
        ));
    }
}

fn versions(
    kind: ChangeKind,
    name: &str,
    a: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
) -> Vec<Change> {
    let mut out: Vec<Change> = b
        .iter()
        .filter(|(v, _)| !a.contains_key(*v))
        .map(|(v, n)| Change::new(kind, format!("{name} {v} appeared ({n} requests)")))
        .collect();
    out.extend(
        a.keys()
            .filter(|v| !b.contains_key(*v))
            .map(|v| Change::new(kind, format!("{name} {v} no longer seen"))),
    );
    out
}

/// `route model-version` keys split.
fn split(key: &str) -> Option<(&str, &str)> {
    key.split_once(' ')
}

/// Model versions per route: a route answering with a version it did not
/// before (naming the ones it answered with then), and a version a route
/// no longer answers with while it serves with none new.
fn models(out: &mut Vec<Change>, a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) {
    let of = |m: &BTreeMap<String, u64>, route: &str| -> Vec<String> {
        m.keys()
            .filter_map(|k| split(k))
            .filter(|(r, _)| *r == route)
            .map(|(_, v)| v.to_owned())
            .collect()
    };
    for (key, n) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
        let Some((route, version)) = split(key) else {
            continue;
        };
        let was = of(a, route);
        let was = if was.is_empty() {
            String::new()
        } else {
            format!(" (was {})", was.join(", "))
        };
        out.push(Change::new(
            ChangeKind::Model,
            format!("route {route} reports model version {version}{was} ({n} requests)"),
        ));
    }
    for key in a.keys().filter(|k| !b.contains_key(*k)) {
        let Some((route, version)) = split(key) else {
            continue;
        };
        // A replaced version is named by its successor's line above.
        if of(b, route)
            .iter()
            .all(|v| a.contains_key(&format!("{route} {v}")))
        {
            out.push(Change::new(
                ChangeKind::Model,
                format!("route {route} no longer reports model version {version}"),
            ));
        }
    }
}

fn metrics(out: &mut Vec<Change>, a: &WindowSummary, b: &WindowSummary) {
    let mut moved = |what: String| out.push(Change::new(ChangeKind::Metric, what));
    if (b.error_rate - a.error_rate).abs() >= 0.05 {
        moved(format!(
            "error rate {:.1}% → {:.1}%",
            a.error_rate * 100.0,
            b.error_rate * 100.0
        ));
    }
    if (b.refused_rate - a.refused_rate).abs() >= 0.05 {
        moved(format!(
            "refusals {:.1}% → {:.1}%",
            a.refused_rate * 100.0,
            b.refused_rate * 100.0
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
