//! The `quality` section: durations and counts in range, suites readable,
//! routes known, thresholds on known scorers within 0–1.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Errors;
use crate::model::{QualityConfig, QualitySuite, SCORERS};
use crate::raw::{RawQuality, RawQualitySuite};

/// Largest suite file read.
const MAX_SUITE_BYTES: u64 = 8 * 1024 * 1024;

pub(super) fn validate_quality(
    raw: Option<RawQuality>,
    routes: &[&str],
    origin: &str,
    errors: &mut Errors,
) -> QualityConfig {
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
    let count = |v: Option<u32>, default: u32, path: &str, errors: &mut Errors| match v {
        Some(0) => {
            errors.push(path, "must be at least 1");
            default
        }
        Some(n) => n,
        None => default,
    };
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
    let warn_weight = raw.warn_weight.unwrap_or(defaults.warn_weight);
    if !(warn_weight > 0.0 && warn_weight <= 1.0) {
        errors.push("quality.warn-weight", "must be more than 0 and at most 1");
    }
    let base = Path::new(origin)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let suites = raw
        .suites
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| suite(s, &format!("quality.suites[{i}]"), routes, &base, errors))
        .collect();
    QualityConfig {
        every,
        timeout,
        trip_after,
        recover_after,
        warn_weight,
        suites,
    }
}

fn suite(
    raw: RawQualitySuite,
    at: &str,
    routes: &[&str],
    base: &Path,
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
        scorer_rate(&format!("{at}.min-pass-rate.{name}"), name, *rate, errors);
    }
    for (name, rate) in &raw.warn_pass_rate {
        let field = format!("{at}.warn-pass-rate.{name}");
        let floor = raw.min_pass_rate.get(name).copied().unwrap_or(0.0);
        if scorer_rate(&field, name, *rate, errors) && *rate < floor {
            errors.push(
                &field,
                format!("must not be below min-pass-rate.{name} ({floor})"),
            );
        }
    }
    Some(QualitySuite {
        path,
        text: text?,
        routes: ids,
        min_pass_rate: raw.min_pass_rate.into_iter().collect(),
        warn_pass_rate: raw.warn_pass_rate.into_iter().collect(),
    })
}

/// Checks one `scorer: rate` entry; whether it is valid.
fn scorer_rate(field: &str, name: &str, rate: f64, errors: &mut Errors) -> bool {
    if !SCORERS.contains(&name) {
        let choices = SCORERS.join(", ");
        errors.push(field, format!("unknown scorer; one of {choices}"));
        return false;
    }
    if !(0.0..=1.0).contains(&rate) {
        errors.push(field, "must be between 0 and 1");
        return false;
    }
    if name == "judge" {
        errors.push(
            field,
            "the scheduled runs do not ask a judge model; grade with `signalbox eval run --judge ALIAS`",
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
