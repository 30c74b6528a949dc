//! Owns the checks across a scenario's fields: names that must exist or be
//! unique, shares and rates in range, steps inside the run. Every error is
//! reported at once, each with its path (`timeline[2].upstream: …`).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use signalbox_mock::{Faults, MockFormat};

use super::raw::{RawInvariants, RawLoad, RawScenario, RawStep, RawSuccess, RawUpstream};
use super::{Action, Invariant, Load, Policy, RedisStep, Scenario, Step, Tenant, Upstream};

/// Default requests in flight.
const DEFAULT_CONCURRENCY: usize = 16;
/// Default client bound on one request.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `--short` factor.
const DEFAULT_SHORT_SCALE: f64 = 0.25;
/// Default forgiveness after a 429 for calls already under way.
const DEFAULT_COOLDOWN_GRACE: Duration = Duration::from_millis(100);

type Errors = Vec<String>;

pub(super) fn validate(
    raw: RawScenario,
    origin: &str,
    stem: Option<&str>,
    dir: &Path,
) -> Result<Scenario, Errors> {
    let RawScenario {
        name,
        description,
        time_scale,
        short_scale,
        upstreams,
        policy,
        policy_file,
        redis,
        vars,
        timeline,
        load,
        invariants,
    } = raw;
    let mut errors = Errors::new();
    let name = name.or_else(|| stem.map(str::to_owned)).unwrap_or_default();
    if name.trim().is_empty() {
        errors.push("name: must not be empty".to_owned());
    }
    if description.trim().is_empty() || description.contains('\n') {
        errors.push("description: must be one non-empty line".to_owned());
    }
    let time_scale = scale(&mut errors, "time-scale", time_scale, 1.0);
    let short_scale = scale(&mut errors, "short-scale", short_scale, DEFAULT_SHORT_SCALE);
    let upstreams = check_upstreams(&mut errors, upstreams);
    let policy = match (policy, policy_file) {
        (Some(_), Some(_)) => {
            errors.push("policy-file: give `policy` or `policy-file`, not both".to_owned());
            Policy::External
        }
        (Some(doc), None) => match yaml_serde::to_string(&doc) {
            Ok(text) => Policy::Inline(text),
            Err(e) => {
                errors.push(format!("policy: {e}"));
                Policy::External
            }
        },
        (None, Some(file)) => Policy::File(dir.join(file)),
        (None, None) => Policy::External,
    };
    let load = check_load(&mut errors, load);
    let inline = matches!(policy, Policy::Inline(_));
    let timeline = check_timeline(&mut errors, timeline, &upstreams, (load.duration, inline));
    for (i, step) in timeline.iter().enumerate() {
        if matches!(step.action, Action::Redis(_)) && !redis {
            errors.push(format!(
                "timeline[{i}].redis: the scenario starts no redis (`redis: true`)"
            ));
        }
    }
    let invariants = check_invariants(&mut errors, invariants, &load);
    if invariants.is_empty() {
        errors.push("invariants: at least one invariant is required".to_owned());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Scenario {
        name,
        description,
        origin: origin.to_owned(),
        time_scale,
        short_scale,
        upstreams,
        policy,
        vars,
        redis,
        timeline,
        load,
        invariants,
    })
}

fn scale(errors: &mut Errors, path: &str, value: Option<f64>, default: f64) -> f64 {
    let v = value.unwrap_or(default);
    if !(v.is_finite() && v > 0.0) {
        errors.push(format!("{path}: must be a number above 0 (got {v})"));
    }
    v
}

fn share(errors: &mut Errors, path: &str, v: f64) {
    if !(0.0..=1.0).contains(&v) {
        errors.push(format!("{path}: must be between 0 and 1 (got {v})"));
    }
}

fn check_upstreams(errors: &mut Errors, raw: Vec<RawUpstream>) -> Vec<Upstream> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, u) in raw.into_iter().enumerate() {
        let RawUpstream {
            name,
            format,
            stream_chunks,
            chunk_delay_ms,
        } = u;
        let var_safe = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if name.is_empty() || !var_safe {
            errors.push(format!(
                "upstreams[{i}].name: {name:?} must be letters, digits, `-` or `_` (it names ${{<NAME>_URL}})"
            ));
        } else if !seen.insert(name.clone()) {
            errors.push(format!("upstreams[{i}].name: duplicate upstream {name:?}"));
        }
        let format = match format.as_deref().map(str::parse::<MockFormat>) {
            None => MockFormat::OpenAi,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                errors.push(format!("upstreams[{i}].format: {e}"));
                MockFormat::OpenAi
            }
        };
        out.push(Upstream {
            name,
            format,
            stream_chunks: stream_chunks.unwrap_or(5),
            chunk_delay_ms: chunk_delay_ms.unwrap_or(0),
        });
    }
    out
}

fn check_load(errors: &mut Errors, raw: RawLoad) -> Load {
    let RawLoad {
        duration,
        rate,
        concurrency,
        model,
        stream_share,
        anthropic_share,
        idempotent_share,
        irreversible_share,
        sessions,
        tenants,
        request_timeout,
        seed,
    } = raw;
    if duration.is_zero() {
        errors.push("load.duration: must be above 0".to_owned());
    }
    if !(rate.is_finite() && rate > 0.0) {
        errors.push(format!(
            "load.rate: must be above 0 requests per second (got {rate})"
        ));
    }
    let concurrency = concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    if concurrency == 0 {
        errors.push("load.concurrency: must be at least 1".to_owned());
    }
    share(errors, "load.stream-share", stream_share);
    share(errors, "load.anthropic-share", anthropic_share);
    share(errors, "load.idempotent-share", idempotent_share);
    share(errors, "load.irreversible-share", irreversible_share);
    if idempotent_share + irreversible_share > 1.0 {
        errors.push(
            "load.irreversible-share: with idempotent-share, more than every request".to_owned(),
        );
    }
    let mut names = HashSet::new();
    let tenants = tenants
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            if !names.insert(t.name.clone()) {
                errors.push(format!(
                    "load.tenants[{i}].name: duplicate tenant {:?}",
                    t.name
                ));
            }
            let share = t.share.unwrap_or(1.0);
            if !(share.is_finite() && share > 0.0) {
                errors.push(format!(
                    "load.tenants[{i}].share: must be above 0 (got {share})"
                ));
            }
            Tenant {
                name: t.name,
                key: t.key,
                share,
                headers: t.headers,
            }
        })
        .collect();
    Load {
        duration,
        rate,
        concurrency,
        model: model.unwrap_or_else(|| "chat".to_owned()),
        stream_share,
        anthropic_share,
        idempotent_share,
        irreversible_share,
        sessions,
        tenants,
        request_timeout: request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        seed: seed.unwrap_or(14),
    }
}

fn check_timeline(
    errors: &mut Errors,
    raw: Vec<RawStep>,
    upstreams: &[Upstream],
    (duration, inline): (Duration, bool),
) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, s) in raw.into_iter().enumerate() {
        let RawStep {
            at,
            upstream,
            faults,
            clear,
            reload,
            redis,
        } = s;
        if at > duration {
            errors.push(format!(
                "timeline[{i}].at: {} is after the load ends ({})",
                humantime::format_duration(at),
                humantime::format_duration(duration)
            ));
        }
        let Some(action) = action_of(errors, i, (upstream, faults, clear), reload, redis, inline)
        else {
            continue;
        };
        if let Action::Faults { upstream, .. } = &action
            && !upstreams.iter().any(|u| &u.name == upstream)
        {
            let known: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
            errors.push(format!(
                "timeline[{i}].upstream: unknown upstream {upstream:?} (known: {})",
                known.join(", ")
            ));
        }
        out.push(Step { at, action });
    }
    // Stable: steps at the same time keep the file's order.
    out.sort_by_key(|s| s.at);
    out
}

/// What one step does: exactly one of faults (`upstream` with `faults` or
/// `clear`), `reload` (inline policies only) or `redis`.
fn action_of(
    errors: &mut Errors,
    i: usize,
    (upstream, faults, clear): (Option<String>, Option<Faults>, bool),
    reload: Option<yaml_serde::Value>,
    redis: Option<RedisStep>,
    inline: bool,
) -> Option<Action> {
    match (upstream, faults, clear, reload, redis) {
        (Some(upstream), Some(faults), false, None, None) => Some(Action::Faults {
            upstream,
            faults: Box::new(faults),
        }),
        (Some(upstream), None, true, None, None) => Some(Action::Faults {
            upstream,
            faults: Box::default(),
        }),
        (None, None, false, Some(doc), None) => {
            if !inline {
                errors.push(format!(
                    "timeline[{i}].reload: a reload needs the scenario's own inline `policy`"
                ));
            }
            Some(Action::Reload(
                yaml_serde::to_string(&doc).unwrap_or_default(),
            ))
        }
        (None, None, false, None, Some(step)) => Some(Action::Redis(step)),
        _ => {
            errors.push(format!(
                "timeline[{i}]: give `upstream` with `faults` or `clear: true`, or `reload` or `redis` alone"
            ));
            None
        }
    }
}

fn check_success_rate(errors: &mut Errors, s: RawSuccess, load: &Load) -> Invariant {
    share(errors, "invariants.success-rate.min", s.min);
    for (i, t) in s.tenants.iter().enumerate() {
        if !load.tenants.iter().any(|lt| &lt.name == t) {
            errors.push(format!(
                "invariants.success-rate.tenants[{i}]: {t:?} is not a tenant of the load"
            ));
        }
    }
    Invariant::SuccessRate {
        min: s.min,
        tenants: s.tenants,
        after: s.after.unwrap_or_default(),
        skip_keyed: s.skip_keyed,
    }
}

fn check_invariants(errors: &mut Errors, raw: RawInvariants, load: &Load) -> Vec<Invariant> {
    let RawInvariants {
        definite_answer,
        no_duplicate_execution,
        residency,
        degradation_marked,
        bounded_attempts,
        breaker,
        no_truncated_success,
        healthy_after,
        success_rate,
        rejections_propagated,
    } = raw;
    let mut out = Vec::new();
    if let Some(d) = definite_answer {
        if d.within.is_zero() {
            errors.push("invariants.definite-answer.within: must be above 0".to_owned());
        }
        out.push(Invariant::DefiniteAnswer { within: d.within });
    }
    if no_duplicate_execution.is_some() {
        out.push(Invariant::NoDuplicateExecution);
    }
    if residency.is_some() {
        out.push(Invariant::Residency);
    }
    if degradation_marked.is_some() {
        out.push(Invariant::DegradationMarked);
    }
    if let Some(a) = bounded_attempts {
        if let Some(m) = a.max_amplification
            && !(m.is_finite() && m >= 1.0)
        {
            errors.push(format!(
                "invariants.bounded-attempts.max-amplification: must be at least 1 (got {m})"
            ));
        }
        out.push(Invariant::BoundedAttempts {
            max: a.max,
            max_amplification: a.max_amplification,
            cooldown_grace: a.cooldown_grace.unwrap_or(DEFAULT_COOLDOWN_GRACE),
        });
    }
    if let Some(b) = breaker {
        if b.opens_within == 0 {
            errors.push("invariants.breaker.opens-within: must be at least 1".to_owned());
        }
        out.push(Invariant::Breaker {
            route: b.route,
            opens_within: b.opens_within,
            closes_after_recovery: b.closes_after_recovery,
        });
    }
    if no_truncated_success.is_some() {
        out.push(Invariant::NoTruncatedSuccess);
    }
    if rejections_propagated.is_some() {
        out.push(Invariant::RejectionsPropagated);
    }
    if let Some(h) = healthy_after {
        out.push(Invariant::HealthyAfter { within: h.within });
    }
    if let Some(s) = success_rate {
        out.push(check_success_rate(errors, s, load));
    }
    out
}
