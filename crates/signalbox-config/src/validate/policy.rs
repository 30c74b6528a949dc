//! Policy rules: references to tenants, tiers, regions, aliases, routes and
//! providers, failure modes and objectives.

use std::collections::BTreeMap;

use signalbox_core::RouteId;

use super::provider::{is_header_name, is_header_value};
use super::{Errors, FirstSeen, check_amount, check_refs, check_rule_names};
use crate::model::{
    DegradeStep, FailureMode, Objectives, PolicyRule, Requirements, RouteSelector, RuleWhen,
    Weights,
};
use crate::raw::{
    RawObjectives, RawPolicy, RawPolicyRule, RawRequire, RawRuleWhen, RawSelect, RawWeights,
};
use crate::text::Text;

#[cfg(test)]
mod tests;

/// Names policy rules may refer to.
pub(super) struct Known<'a> {
    pub(super) tenants: Vec<&'a str>,
    pub(super) risk_tiers: Vec<&'a str>,
    pub(super) regions: Vec<&'a str>,
    pub(super) aliases: Vec<&'a str>,
    pub(super) routes: Vec<&'a str>,
    pub(super) providers: Vec<&'a str>,
    pub(super) zones: &'a [String],
}

pub(super) fn validate_policy(
    raw: Option<RawPolicy>,
    known: &Known<'_>,
    errors: &mut Errors,
) -> Vec<PolicyRule> {
    let rules = raw.and_then(|p| p.rules).unwrap_or_default();
    check_rule_names(errors, "policy.rules", "policy rule name", &rules, |r| {
        &r.name
    });
    rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| validate_rule(rule, &format!("policy.rules[{i}]"), known, errors))
        .collect()
}

fn validate_rule(
    raw: RawPolicyRule,
    path: &str,
    known: &Known<'_>,
    errors: &mut Errors,
) -> PolicyRule {
    let RawPolicyRule {
        name,
        when,
        routes,
        select,
        require,
        objectives,
        failure_mode,
        degrade,
        max_attempts,
        at_most_once,
        privacy,
    } = raw;
    // Checked in document order, so errors come out in that order.
    let when = when.map_or_else(RuleWhen::default, |w| {
        validate_when(w, &format!("{path}.when"), known, errors)
    });
    let routes = routes.map(|ids| {
        if ids.is_empty() {
            errors.push(
                format!("{path}.routes"),
                "at least one route is required (omit routes to use the alias's routes)",
            );
            return Vec::new();
        }
        check_refs(
            errors,
            path,
            "routes",
            "route",
            Some(ids),
            Some(&known.routes),
        )
        .iter()
        .map(|id| RouteId::new(id))
        .collect()
    });
    let select = select.map(|s| validate_select(s, &format!("{path}.select"), known, errors));
    let require = require.map_or_else(Requirements::default, |r| {
        let RawRequire {
            retention,
            content_filter,
        } = r;
        Requirements {
            retention,
            content_filter,
        }
    });
    let objectives = objectives.map_or_else(Objectives::default, |o| {
        validate_objectives(o, &format!("{path}.objectives"), known, errors)
    });
    let failure_mode = failure_mode.unwrap_or_default();
    let degrade = match (failure_mode, degrade) {
        (FailureMode::FailClosed, Some(steps)) if !steps.is_empty() => {
            errors.push(
                format!("{path}.degrade"),
                "degrade steps cannot be combined with failure-mode fail-closed \
                 (remove degrade, or use failure-mode degrade)",
            );
            Vec::new()
        }
        (FailureMode::FailClosed, _) => Vec::new(),
        (FailureMode::Degrade, None) => vec![DegradeStep::FallbackRoute],
        (FailureMode::Degrade, Some(steps)) => {
            let names: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
            let mut seen = FirstSeen::default();
            for (i, step) in names.iter().enumerate() {
                let step_path = format!("{path}.degrade[{i}]");
                seen.check(errors, &step_path, "degrade step", step, "degrade", i);
            }
            steps
        }
    };
    if max_attempts == Some(0) {
        errors.push(format!("{path}.max-attempts"), "must be at least 1");
    }
    PolicyRule {
        name: name.0,
        when,
        routes,
        select,
        require,
        objectives,
        failure_mode,
        degrade,
        max_attempts,
        at_most_once: at_most_once.unwrap_or(false),
        privacy: super::privacy::validate_boundaries(
            privacy.unwrap_or_default(),
            known.zones,
            &format!("{path}.privacy"),
            errors,
        ),
    }
}

fn validate_when(raw: RawRuleWhen, path: &str, known: &Known<'_>, errors: &mut Errors) -> RuleWhen {
    let RawRuleWhen {
        tenants,
        plans,
        intents,
        risk_tiers,
        regions,
        aliases,
        tools,
        headers,
    } = raw;
    let tenants = check_refs(
        errors,
        path,
        "tenants",
        "tenant",
        tenants,
        Some(&known.tenants),
    );
    let plans = check_refs(errors, path, "plans", "plan", plans, None);
    let intents = check_refs(errors, path, "intents", "intent", intents, None);
    let risk_tiers = check_refs(
        errors,
        path,
        "risk-tiers",
        "risk tier",
        risk_tiers,
        Some(&known.risk_tiers),
    )
    .iter()
    .filter_map(|name| known.risk_tiers.iter().position(|t| t == name))
    .collect();
    let regions = check_refs(
        errors,
        path,
        "regions",
        "region",
        regions,
        Some(&known.regions),
    );
    let aliases = check_refs(
        errors,
        path,
        "aliases",
        "alias",
        aliases,
        Some(&known.aliases),
    );
    RuleWhen {
        tenants,
        plans,
        intents,
        risk_tiers,
        regions,
        aliases,
        tools,
        headers: validate_match_headers(headers, &format!("{path}.headers"), errors),
    }
}

/// Header conditions: names lower-cased, sorted; exact values.
fn validate_match_headers(
    raw: Option<BTreeMap<String, Text>>,
    path: &str,
    errors: &mut Errors,
) -> Vec<(String, String)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    if raw.is_empty() {
        errors.push(path, "must not be empty (omit headers instead)");
    }
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (name, value) in raw {
        let header_path = format!("{path}.{name}");
        if !is_header_name(&name) {
            errors.push(&header_path, format!("invalid header name {name:?}"));
        }
        if !is_header_value(value.as_str()) {
            errors.push(
                &header_path,
                "invalid header value: use visible ASCII, spaces or tabs, without leading or trailing whitespace",
            );
        }
        let lower = name.to_ascii_lowercase();
        if let Some((first, _)) = out.get(&lower) {
            errors.push(
                &header_path,
                format!("header {name:?} repeats {first:?} (names are case-insensitive)"),
            );
        } else {
            out.insert(lower, (name, value.0));
        }
    }
    out.into_iter()
        .map(|(lower, (_, value))| (lower, value))
        .collect()
}

fn validate_select(
    raw: RawSelect,
    path: &str,
    known: &Known<'_>,
    errors: &mut Errors,
) -> RouteSelector {
    let RawSelect {
        regions,
        providers,
        supports,
    } = raw;
    let supports = supports.unwrap_or_default();
    let names: Vec<&str> = supports.iter().map(|c| c.as_str()).collect();
    let mut seen = FirstSeen::default();
    for (i, name) in names.iter().enumerate() {
        let item_path = format!("{path}.supports[{i}]");
        seen.check(errors, &item_path, "capability", name, "supports", i);
    }
    RouteSelector {
        regions: check_refs(
            errors,
            path,
            "regions",
            "region",
            regions,
            Some(&known.regions),
        ),
        providers: check_refs(
            errors,
            path,
            "providers",
            "provider",
            providers,
            Some(&known.providers),
        ),
        supports,
    }
}

fn validate_objectives(
    raw: RawObjectives,
    path: &str,
    known: &Known<'_>,
    errors: &mut Errors,
) -> Objectives {
    let RawObjectives {
        prefer,
        prefer_regions,
        max_cost_usd,
        latency_slo,
        weights,
    } = raw;
    let prefer = check_refs(errors, path, "prefer", "route", prefer, Some(&known.routes));
    let prefer_regions = check_refs(
        errors,
        path,
        "prefer-regions",
        "region",
        prefer_regions,
        Some(&known.regions),
    );
    check_amount(errors, &format!("{path}.max-cost-usd"), max_cost_usd, "USD");
    if latency_slo.is_some_and(|d| d.is_zero()) {
        errors.push(format!("{path}.latency-slo"), "must be greater than 0");
    }
    Objectives {
        prefer: prefer.iter().map(|id| RouteId::new(id)).collect(),
        prefer_regions,
        max_cost_usd,
        latency_slo,
        weights: validate_weights(weights, &format!("{path}.weights"), errors),
    }
}

fn validate_weights(raw: Option<RawWeights>, path: &str, errors: &mut Errors) -> Weights {
    let defaults = Weights::default();
    let Some(RawWeights {
        preference,
        cost,
        latency,
    }) = raw
    else {
        return defaults;
    };
    let mut weight = |value: Option<f64>, default: f64, key: &str| {
        check_amount(errors, &format!("{path}.{key}"), value, "a weight");
        value.unwrap_or(default)
    };
    Weights {
        preference: weight(preference, defaults.preference, "preference"),
        cost: weight(cost, defaults.cost, "cost"),
        latency: weight(latency, defaults.latency, "latency"),
    }
}
