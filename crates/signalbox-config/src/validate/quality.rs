//! The `quality` section: durations and counts in range, suites readable,
//! routes, tenant and judge alias known, budgets positive, thresholds on
//! known scorers within 0–1 (a judge threshold only with a judge alias).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Errors;
use super::policy::Known;
use crate::model::{
    PromptConfig, QualityBudget, QualityConfig, QualitySuite, SCORERS, SuitePrompt,
};
use crate::raw::{RawQuality, RawQualityBudget, RawQualitySuite};

/// Largest suite file read.
const MAX_SUITE_BYTES: u64 = 8 * 1024 * 1024;

pub(super) fn validate_quality(
    raw: Option<RawQuality>,
    known: &Known<'_>,
    prompts: &[PromptConfig],
    origin: &str,
    errors: &mut Errors,
) -> QualityConfig {
    let routes = known.routes.as_slice();
    let defaults = QualityConfig::default();
    let Some(raw) = raw else {
        return defaults;
    };
    let every = raw.every.unwrap_or(defaults.every);
    if every < Duration::from_secs(1) {
        errors.push("quality.every", "must be at least 1s");
    }
    let timeout = raw.timeout.unwrap_or(defaults.timeout);
    if timeout.is_zero() {
        errors.push("quality.timeout", "must be more than 0s");
    }
    let trip_after = count(
        raw.trip_after,
        defaults.trip_after,
        "quality.trip-after",
        errors,
    );
    let recover_after = count(
        raw.recover_after,
        defaults.recover_after,
        "quality.recover-after",
        errors,
    );
    let budget = budget(raw.budget, errors);
    let tenant = named(
        raw.tenant,
        &known.tenants,
        "tenant",
        "quality.tenant",
        errors,
    );
    let judge = named(raw.judge, &known.aliases, "alias", "quality.judge", errors);
    let score_window = raw.score_window.unwrap_or(defaults.score_window);
    if score_window < Duration::from_secs(1) {
        errors.push("quality.score-window", "must be at least 1s");
    }
    let judged = Judged(judge.is_some());
    let warn_weight = raw.warn_weight.unwrap_or(defaults.warn_weight);
    if !(warn_weight > 0.0 && warn_weight <= 1.0) {
        errors.push("quality.warn-weight", "must be more than 0 and at most 1");
    }
    let suites = suites(raw.suites, routes, prompts, origin, judged, errors);
    QualityConfig {
        every,
        timeout,
        trip_after,
        recover_after,
        jitter: raw.jitter.unwrap_or(defaults.jitter),
        budget,
        tenant,
        judge,
        score_window,
        warn_weight,
        suites,
    }
}

/// A count that must be at least 1 (`default` when absent or refused).
fn count(v: Option<u32>, default: u32, path: &str, errors: &mut Errors) -> u32 {
    match v {
        Some(0) => {
            errors.push(path, "must be at least 1");
            default
        }
        Some(n) => n,
        None => default,
    }
}

/// The suites, each read against its file's directory (relative to the
/// configuration file `origin`) and its prompt version, if any.
fn suites(
    raw: Vec<RawQualitySuite>,
    routes: &[&str],
    prompts: &[PromptConfig],
    origin: &str,
    judged: Judged,
    errors: &mut Errors,
) -> Vec<QualitySuite> {
    let base = Path::new(origin)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, mut s)| {
            let at = format!("quality.suites[{i}]");
            let prompt = suite_prompt(s.prompt.take(), &s.prompt_variables, prompts, &at, errors);
            suite(s, &at, routes, &base, judged, errors).map(|q| QualitySuite { prompt, ..q })
        })
        .collect()
}

/// Whether scheduled runs have a judge alias (a judge threshold needs one).
#[derive(Debug, Clone, Copy)]
struct Judged(bool);

/// The hourly budget: a limit of 0 would skip every run; refused.
fn budget(raw: Option<RawQualityBudget>, errors: &mut Errors) -> QualityBudget {
    let Some(raw) = raw else {
        return QualityBudget::default();
    };
    if raw.requests_per_hour == Some(0) {
        errors.push(
            "quality.budget.requests-per-hour",
            "must be at least 1 (to stop judging a route, leave it out of the suites' routes)",
        );
    }
    if let Some(cost) = raw.cost_per_hour_usd
        && !(cost.is_finite() && cost > 0.0)
    {
        errors.push("quality.budget.cost-per-hour-usd", "must be more than 0");
    }
    QualityBudget {
        requests_per_hour: raw.requests_per_hour,
        cost_per_hour_usd: raw.cost_per_hour_usd,
    }
}

/// A name that must be one of `known` (a tenant, an alias).
fn named(
    raw: Option<crate::text::Text>,
    known: &[&str],
    what: &str,
    path: &str,
    errors: &mut Errors,
) -> Option<String> {
    let name = raw?.0;
    if !known.contains(&name.as_str()) {
        errors.push(path, format!("unknown {what} `{name}`"));
    }
    Some(name)
}

fn suite(
    raw: RawQualitySuite,
    at: &str,
    routes: &[&str],
    base: &Path,
    judged: Judged,
    errors: &mut Errors,
) -> Option<QualitySuite> {
    let path = base.join(PathBuf::from(raw.path.as_str()));
    let text = read(&path, &format!("{at}.path"), errors);
    let ids: Vec<String> = raw
        .routes
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.0)
        .collect();
    for (j, id) in ids.iter().enumerate() {
        if !routes.contains(&id.as_str()) {
            errors.push(format!("{at}.routes[{j}]"), format!("unknown route `{id}`"));
        }
    }
    if raw.min_pass_rate.is_empty() {
        errors.push(
            format!("{at}.min-pass-rate"),
            "must name at least one scorer",
        );
    }
    for (name, rate) in &raw.min_pass_rate {
        scorer_rate(
            &format!("{at}.min-pass-rate.{name}"),
            name,
            *rate,
            judged,
            errors,
        );
    }
    for (name, rate) in &raw.warn_pass_rate {
        let field = format!("{at}.warn-pass-rate.{name}");
        let floor = raw.min_pass_rate.get(name).copied().unwrap_or(0.0);
        if scorer_rate(&field, name, *rate, judged, errors) && *rate < floor {
            errors.push(
                &field,
                format!("must not be below min-pass-rate.{name} ({floor})"),
            );
        }
    }
    let intents: Vec<String> = raw.intents.into_iter().map(|t| t.0).collect();
    for (j, intent) in intents.iter().enumerate() {
        if intent.trim().is_empty() {
            errors.push(format!("{at}.intents[{j}]"), "must not be empty");
        }
    }
    Some(QualitySuite {
        path,
        text: text?,
        routes: ids,
        intents,
        min_pass_rate: raw.min_pass_rate.into_iter().collect(),
        warn_pass_rate: raw.warn_pass_rate.into_iter().collect(),
        prompt: None,
    })
}

/// The registered prompt version a suite names (`id@version` or `id`),
/// with a value for each of its variables and no other.
fn suite_prompt(
    raw: Option<crate::text::Text>,
    given: &std::collections::BTreeMap<String, String>,
    prompts: &[PromptConfig],
    at: &str,
    errors: &mut Errors,
) -> Option<SuitePrompt> {
    let Some(reference) = raw.map(|t| t.0) else {
        if !given.is_empty() {
            errors.push(format!("{at}.prompt-variables"), "needs `prompt`");
        }
        return None;
    };
    let field = format!("{at}.prompt");
    let (id, version) = match reference.split_once('@') {
        Some((id, v)) => (id, Some(v)),
        None => (reference.as_str(), None),
    };
    let Some((p, prompt)) = prompts.iter().enumerate().find(|(_, p)| p.id == id) else {
        errors.push(&field, format!("unknown prompt `{id}`"));
        return None;
    };
    let Some(v) = prompt.version(version) else {
        errors.push(
            &field,
            format!("prompt `{id}` has no version `{}`", version.unwrap_or("-")),
        );
        return None;
    };
    let vars = format!("{at}.prompt-variables");
    for missing in v.variables.iter().filter(|n| !given.contains_key(*n)) {
        errors.push(
            &vars,
            format!("missing `{missing}` (used by {id}@{})", v.version),
        );
    }
    for extra in given.keys().filter(|k| !v.variables.contains(k)) {
        errors.push(
            &vars,
            format!("`{extra}` is not a variable of {id}@{}", v.version),
        );
    }
    Some(SuitePrompt {
        prompt: p,
        version: prompt
            .versions
            .iter()
            .position(|x| x.version == v.version)?,
        label: format!("{id}@{}", v.version),
        values: given.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

/// Checks one `scorer: rate` entry; whether it is valid.
fn scorer_rate(field: &str, name: &str, rate: f64, judged: Judged, errors: &mut Errors) -> bool {
    if !SCORERS.contains(&name) {
        let choices = SCORERS.join(", ");
        errors.push(field, format!("unknown scorer; one of {choices}"));
        return false;
    }
    if !(0.0..=1.0).contains(&rate) {
        errors.push(field, "must be between 0 and 1");
        return false;
    }
    if name == "judge" && !judged.0 {
        errors.push(
            field,
            "needs `quality.judge`: the alias that grades the rubrics in scheduled runs",
        );
        return false;
    }
    true
}

fn read(path: &Path, field: &str, errors: &mut Errors) -> Option<String> {
    let size = std::fs::metadata(path).map(|m| m.len());
    match size {
        Ok(n) if n > MAX_SUITE_BYTES => {
            errors.push(
                field,
                format!("{} is larger than {MAX_SUITE_BYTES} bytes", path.display()),
            );
            None
        }
        Ok(_) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                errors.push(field, format!("cannot read {}: {e}", path.display()));
                None
            }
        },
        Err(e) => {
            errors.push(field, format!("cannot read {}: {e}", path.display()));
            None
        }
    }
}
