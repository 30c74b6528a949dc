//! The `shadow` and `canary` sections: names unique, routes, tenants and
//! aliases known, shares and thresholds in range; and, where it can be
//! decided from the configuration alone, a shadow route that could never
//! take a scoped tenant's requests (a region, retention, content filter or
//! risk tier the tenant never allows) is refused here, naming why.

use std::time::Duration;

use super::{Errors, check_name};
use crate::model::{
    AliasConfig, CanaryConfig, CanaryRollback, CanarySubject, PromptConfig, RouteConfig,
    ShadowConfig, ShadowRule, TenantConfig,
};
use crate::raw::{RawCanary, RawCanaryRollback, RawShadow, RawShadowRule};
use crate::text::Text;

/// What the sections are checked against.
pub(super) struct Scope<'a> {
    pub routes: &'a [RouteConfig],
    pub tenants: &'a [TenantConfig],
    pub aliases: &'a [AliasConfig],
    pub risk_tiers: &'a [String],
    pub prompts: &'a [PromptConfig],
}

pub(super) fn validate_shadow(
    raw: Option<RawShadow>,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> ShadowConfig {
    let defaults = ShadowConfig::default();
    let Some(RawShadow {
        max_concurrency,
        timeout,
        rules,
    }) = raw
    else {
        return defaults;
    };
    if max_concurrency == Some(0) {
        errors.push("shadow.max-concurrency", "must be at least 1");
    }
    let timeout = timeout.unwrap_or(defaults.timeout);
    if timeout.is_zero() {
        errors.push("shadow.timeout", "must be more than 0s");
    }
    let mut seen = Vec::new();
    let rules = rules
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let at = format!("shadow.rules[{i}]");
            unique(&mut seen, r.name.as_str(), &at, "shadow rule", errors);
            shadow_rule(r, &at, scope, errors)
        })
        .collect();
    ShadowConfig {
        max_concurrency: max_concurrency.unwrap_or(defaults.max_concurrency),
        timeout,
        rules,
    }
}

/// Reports `name` when an earlier entry of the list has it.
fn unique(seen: &mut Vec<String>, name: &str, at: &str, what: &str, errors: &mut Errors) {
    if seen.iter().any(|s| s == name) {
        errors.push(format!("{at}.name"), format!("duplicate {what} {name:?}"));
    } else {
        seen.push(name.to_owned());
    }
}

fn ids(list: Option<Vec<Text>>) -> Vec<String> {
    list.unwrap_or_default().into_iter().map(|t| t.0).collect()
}

fn shadow_rule(
    raw: RawShadowRule,
    at: &str,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Option<ShadowRule> {
    let RawShadowRule {
        name,
        when,
        route,
        sample,
        requests_per_hour,
        cost_per_hour_usd,
        min_agreement,
    } = raw;
    check_name(
        errors,
        &format!("{at}.name"),
        "shadow rule name",
        name.as_str(),
    );
    let (tenants, intents, aliases) = match when {
        Some(w) => (ids(w.tenants), ids(w.intents), ids(w.aliases)),
        None => Default::default(),
    };
    known_names(&tenants, &aliases, at, scope, errors);
    let limits = (sample, requests_per_hour, cost_per_hour_usd, min_agreement);
    check_limits(limits, at, errors);
    let Some(target) = scope
        .routes
        .iter()
        .find(|r| r.id.as_str() == route.as_str())
    else {
        errors.push(
            format!("{at}.route"),
            format!("unknown route `{}`", route.as_str()),
        );
        return None;
    };
    for tenant in scope.tenants.iter().filter(|t| tenants.contains(&t.id)) {
        if let Some(why) = never_serves(target, tenant, scope.risk_tiers) {
            errors.push(
                format!("{at}.route"),
                format!(
                    "route `{}` can never take tenant `{}`'s requests: {why}",
                    target.id, tenant.id
                ),
            );
        }
    }
    Some(ShadowRule {
        name: name.0,
        tenants,
        intents,
        aliases,
        route: target.id.clone(),
        sample,
        requests_per_hour: requests_per_hour.unwrap_or(1000),
        cost_per_hour_usd,
        min_agreement: min_agreement.unwrap_or(0.9),
    })
}

/// Every tenant and alias a shadow rule names exists.
fn known_names(
    tenants: &[String],
    aliases: &[String],
    at: &str,
    scope: &Scope<'_>,
    errors: &mut Errors,
) {
    for (j, t) in tenants.iter().enumerate() {
        if !scope.tenants.iter().any(|c| &c.id == t) {
            errors.push(
                format!("{at}.when.tenants[{j}]"),
                format!("unknown tenant `{t}`"),
            );
        }
    }
    for (j, a) in aliases.iter().enumerate() {
        if !scope.aliases.iter().any(|c| c.name.as_str() == a) {
            errors.push(
                format!("{at}.when.aliases[{j}]"),
                format!("unknown alias `{a}`"),
            );
        }
    }
}

/// A shadow rule's share, budgets and agreement bar are in range:
/// `(sample, requests-per-hour, cost-per-hour-usd, min-agreement)`.
fn check_limits(
    (sample, requests_per_hour, cost_per_hour_usd, min_agreement): (
        f64,
        Option<u64>,
        Option<f64>,
        Option<f64>,
    ),
    at: &str,
    errors: &mut Errors,
) {
    if !(0.0..=1.0).contains(&sample) {
        errors.push(format!("{at}.sample"), "must be between 0 and 1");
    }
    if requests_per_hour == Some(0) {
        errors.push(format!("{at}.requests-per-hour"), "must be at least 1");
    }
    if cost_per_hour_usd.is_some_and(|c| !c.is_finite() || c <= 0.0) {
        errors.push(format!("{at}.cost-per-hour-usd"), "must be more than 0");
    }
    if min_agreement.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
        errors.push(format!("{at}.min-agreement"), "must be between 0 and 1");
    }
}

/// Why `route` fails a hard constraint for every request of `tenant`,
/// whatever the request: the same constraints the policy checks per
/// request, decided from the configuration alone.
fn never_serves(route: &RouteConfig, tenant: &TenantConfig, tiers: &[String]) -> Option<String> {
    if !tenant.allowed_regions.is_empty() && !tenant.allowed_regions.contains(&route.region) {
        return Some(format!(
            "region {} ∉ [{}]",
            route.region,
            tenant.allowed_regions.join(", ")
        ));
    }
    if let Some(need) = tenant.require_retention
        && route.retention > need
    {
        return Some(format!(
            "retention {} is weaker than {}",
            route.retention.as_str(),
            need.as_str()
        ));
    }
    if let Some(need) = tenant.require_content_filter
        && route.content_filter < need
    {
        return Some(format!(
            "content filter {} < {}",
            route.content_filter.as_str(),
            need.as_str()
        ));
    }
    if route.max_risk_tier < tenant.risk_floor {
        let tier = |i: usize| tiers.get(i).map_or("?", String::as_str);
        return Some(format!(
            "risk tier floor {} > route max {}",
            tier(tenant.risk_floor),
            tier(route.max_risk_tier)
        ));
    }
    None
}

pub(super) fn validate_canaries(
    raw: Option<Vec<RawCanary>>,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Vec<CanaryConfig> {
    let mut seen = Vec::new();
    let mut claimed: Vec<(String, String)> = Vec::new();
    raw.unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let at = format!("canary[{i}]");
            unique(&mut seen, c.name.as_str(), &at, "canary", errors);
            let c = canary(c, &at, scope, errors)?;
            // One rollout per alias and route (or prompt version): two
            // would split one request twice.
            let (baseline, canary) = c.subject.arms();
            for arm in [baseline, canary] {
                let key = (c.alias.clone(), arm);
                if claimed.contains(&key) {
                    errors.push(
                        &at,
                        format!("`{}` of alias `{}` is in another canary", key.1, c.alias),
                    );
                }
                claimed.push(key);
            }
            Some(c)
        })
        .collect()
}

fn canary(
    raw: RawCanary,
    at: &str,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Option<CanaryConfig> {
    let RawCanary {
        name,
        alias,
        prompt,
        baseline,
        canary,
        steps,
        window,
        rollback,
    } = raw;
    check_name(errors, &format!("{at}.name"), "canary name", name.as_str());
    let alias_cfg = scope
        .aliases
        .iter()
        .find(|a| a.name.as_str() == alias.as_str());
    if alias_cfg.is_none() {
        errors.push(
            format!("{at}.alias"),
            format!("unknown alias `{}`", alias.as_str()),
        );
    }
    let subject = match prompt {
        Some(id) => prompt_subject(&id, &baseline, &canary, at, scope, errors)?,
        None => route_subject(alias_cfg, &baseline, &canary, at, scope, errors)?,
    };
    let steps_bp = steps_bp(steps, at, errors);
    let window = window.map(|w| (w.min_requests, w.min_duration));
    let (min_requests, min_duration) = window.unwrap_or_default();
    if min_requests == Some(0) {
        errors.push(format!("{at}.window.min-requests"), "must be at least 1");
    }
    Some(CanaryConfig {
        name: name.0,
        alias: alias.0,
        subject,
        steps_bp,
        min_requests: min_requests.unwrap_or(20),
        min_duration: min_duration.unwrap_or(Duration::from_secs(300)),
        rollback: thresholds(rollback, at, errors),
    })
}

/// Two routes of the alias.
fn route_subject(
    alias: Option<&AliasConfig>,
    baseline: &Text,
    canary: &Text,
    at: &str,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Option<CanarySubject> {
    let mut route = |field: &str, id: &Text| {
        let found = scope.routes.iter().find(|r| r.id.as_str() == id.as_str());
        if found.is_none() {
            errors.push(
                format!("{at}.{field}"),
                format!("unknown route `{}`", id.as_str()),
            );
        }
        found.map(|r| r.id.clone())
    };
    let (baseline, canary) = (route("baseline", baseline), route("canary", canary));
    let (baseline, canary) = (baseline?, canary?);
    if baseline == canary {
        errors.push(
            format!("{at}.canary"),
            "must differ from the baseline route",
        );
    }
    if let Some(a) = alias {
        for (field, id) in [("baseline", &baseline), ("canary", &canary)] {
            if !a.routes.contains(id) {
                errors.push(
                    format!("{at}.{field}"),
                    format!("route `{id}` is not one of alias `{}`'s routes", a.name),
                );
            }
        }
    }
    Some(CanarySubject::Route { baseline, canary })
}

/// Two versions of a registered prompt that take the same variables (a
/// caller's request must be valid in either arm).
fn prompt_subject(
    id: &Text,
    baseline: &Text,
    canary: &Text,
    at: &str,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> Option<CanarySubject> {
    let Some(p) = scope.prompts.iter().find(|p| p.id == id.as_str()) else {
        errors.push(
            format!("{at}.prompt"),
            format!("unknown prompt `{}`", id.as_str()),
        );
        return None;
    };
    let mut version = |field: &str, name: &Text| {
        let found = p.versions.iter().find(|v| v.version == name.as_str());
        if found.is_none() {
            errors.push(
                format!("{at}.{field}"),
                format!("prompt `{}` has no version `{}`", p.id, name.as_str()),
            );
        }
        found
    };
    let (b, c) = (version("baseline", baseline), version("canary", canary));
    let (b, c) = (b?, c?);
    if b.version == c.version {
        errors.push(
            format!("{at}.canary"),
            "must differ from the baseline version",
        );
    }
    if b.variables != c.variables {
        errors.push(
            format!("{at}.canary"),
            format!(
                "version `{}` uses the variables [{}] where `{}` uses [{}]: a caller's request would be refused in one arm",
                c.version,
                c.variables.join(", "),
                b.version,
                b.variables.join(", ")
            ),
        );
    }
    Some(CanarySubject::Prompt {
        id: p.id.clone(),
        baseline: b.version.clone(),
        canary: c.version.clone(),
    })
}

fn steps_bp(steps: Option<Vec<f64>>, at: &str, errors: &mut Errors) -> Vec<u32> {
    let steps = steps.unwrap_or_else(|| vec![1.0, 5.0, 25.0, 100.0]);
    if steps.is_empty() {
        errors.push(format!("{at}.steps"), "must list at least one step");
    }
    let mut last = 0.0;
    let mut out = Vec::with_capacity(steps.len());
    for (j, s) in steps.into_iter().enumerate() {
        if !(s > 0.0 && s <= 100.0) {
            errors.push(
                format!("{at}.steps[{j}]"),
                "must be more than 0 and at most 100",
            );
        } else if s <= last {
            errors.push(
                format!("{at}.steps[{j}]"),
                "must be larger than the step before",
            );
        }
        last = s;
        out.push((s * 100.0).round().clamp(0.0, 10_000.0) as u32);
    }
    out
}

fn thresholds(raw: Option<RawCanaryRollback>, at: &str, errors: &mut Errors) -> CanaryRollback {
    let d = CanaryRollback::default();
    let Some(RawCanaryRollback {
        error_rate_increase,
        p95_latency_ratio,
        cost_ratio,
        score_drop,
        eval_drop,
    }) = raw
    else {
        return d;
    };
    let mut share = |v: Option<f64>, default: f64, field: &str| {
        let v = v.unwrap_or(default);
        if !(0.0..=1.0).contains(&v) {
            errors.push(format!("{at}.rollback.{field}"), "must be between 0 and 1");
        }
        v
    };
    let error_rate_increase = share(
        error_rate_increase,
        d.error_rate_increase,
        "error-rate-increase",
    );
    let score_drop = share(score_drop, d.score_drop, "score-drop");
    let eval_drop = share(eval_drop, d.eval_drop, "eval-drop");
    let mut ratio = |v: Option<f64>, default: f64, field: &str| {
        let v = v.unwrap_or(default);
        if !(v.is_finite() && v >= 1.0) {
            errors.push(format!("{at}.rollback.{field}"), "must be at least 1");
        }
        v
    };
    CanaryRollback {
        error_rate_increase,
        p95_latency_ratio: ratio(p95_latency_ratio, d.p95_latency_ratio, "p95-latency-ratio"),
        cost_ratio: ratio(cost_ratio, d.cost_ratio, "cost-ratio"),
        score_drop,
        eval_drop,
    }
}
