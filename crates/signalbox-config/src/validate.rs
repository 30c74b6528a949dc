//! Turns the raw document into a frozen [`Config`], reporting every semantic
//! error at once, each with its path.
//!
//! Raw structs are destructured without `..`, so adding a field to one fails to
//! compile until it is validated and carried over here.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{ConfigError, ConfigErrors};
use crate::model::{Config, DEFAULT_REGIONS};
use crate::raw::RawConfig;
use crate::text::Text;
use crate::vars::VarSource;

mod admin;
mod embedding;
mod endpoints;
mod intent;
mod policy;
mod privacy;
mod prompts;
#[cfg(test)]
mod prompts_tests;
mod provider;
#[cfg(test)]
mod provider_tests;
mod quality;
#[cfg(test)]
mod quality_tests;
mod resilience;
#[cfg(test)]
mod resilience_tests;
mod rollout;
#[cfg(test)]
mod rollout_tests;
mod route;
mod server;
mod state;
#[cfg(test)]
mod state_tests;
mod tenant;
#[cfg(test)]
mod tests;

/// Validates `raw`; `version`, `origin` and `includes` are carried into the result.
pub(crate) fn validate(
    raw: RawConfig,
    vars: &dyn VarSource,
    origin: &str,
    version: String,
    includes: Vec<PathBuf>,
) -> Result<Config, ConfigErrors> {
    let RawConfig {
        // Merged into the document by `load` before deserialisation.
        include: _,
        server,
        regions,
        providers,
        routes,
        aliases,
        risk_tiers,
        tenants,
        anonymous_tenant,
        admin,
        decision_log,
        intents,
        policy,
        resilience,
        privacy,
        prompts,
        state,
        quality,
        shadow,
        canary,
    } = raw;
    let mut errors = Errors::default();

    let server = server::validate_server(server, &mut errors);
    let regions = validate_regions(regions, &mut errors);
    let risk_tiers = tenant::validate_risk_tiers(risk_tiers, &mut errors);

    let providers = provider::validate_providers(providers, vars, &mut errors);
    let provider_names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    let resilience = resilience::validate_resilience(resilience, &mut errors);
    let privacy = privacy::validate_privacy(privacy, &mut errors);
    let routes = route::validate_routes(
        routes,
        &route::Scope {
            providers: &provider_names,
            regions: &regions,
            risk_tiers: &risk_tiers,
            breaker: &resilience.breaker,
            health_check: &resilience.health_check,
            zones: &privacy.zones,
        },
        &mut errors,
    );
    let route_ids: Vec<&str> = routes.iter().map(|r| r.id.as_str()).collect();
    let aliases = route::validate_aliases(aliases, &route_ids, &mut errors);
    embedding::check_spaces(&aliases, &routes, &mut errors);
    endpoints::check_responses_providers(&routes, &providers, &mut errors);

    let (tenants, anonymous_tenant) = tenant::validate_tenants(
        tenants,
        anonymous_tenant,
        &tenant::Scope {
            regions: &regions,
            risk_tiers: &risk_tiers,
            vars,
            zones: &privacy.zones,
        },
        &mut errors,
    );
    let admin = admin::validate_admin(admin, vars, &mut errors);
    let decision_log = tenant::validate_decision_log(decision_log, &mut errors);
    let intents = intent::validate_intents(intents, &mut errors);
    let known = policy::Known {
        tenants: tenants.iter().map(|t| t.id.as_str()).collect(),
        risk_tiers: risk_tiers.iter().map(String::as_str).collect(),
        regions: regions.iter().map(String::as_str).collect(),
        aliases: aliases.iter().map(|a| a.name.as_str()).collect(),
        routes: route_ids,
        providers: provider_names,
        zones: &privacy.zones,
    };
    let policy_rules = policy::validate_policy(policy, &known, &mut errors);
    let prompts = prompts::validate_prompts(prompts, &mut errors);
    let state = state::validate_state(state, vars, &mut errors);
    let quality = quality::validate_quality(quality, &known, &prompts, origin, &mut errors);
    let rollout = rollout::Scope {
        routes: &routes,
        tenants: &tenants,
        aliases: &aliases,
        risk_tiers: &risk_tiers,
        prompts: &prompts,
    };
    let shadow = rollout::validate_shadow(shadow, &rollout, &mut errors);
    let canaries = rollout::validate_canaries(canary, &rollout, &mut errors);

    if !errors.0.is_empty() {
        return Err(ConfigErrors(errors.0));
    }
    Ok(Config {
        server,
        regions,
        providers,
        routes,
        aliases,
        risk_tiers,
        tenants,
        anonymous_tenant,
        admin,
        decision_log,
        intents,
        policy_rules,
        resilience: resilience.resilience,
        privacy,
        prompts,
        state,
        quality,
        shadow,
        canaries,
        version,
        origin: origin.to_owned(),
        includes,
        source_text: String::new(),
    })
}

fn validate_regions(raw: Option<Vec<Text>>, errors: &mut Errors) -> Vec<String> {
    let Some(raw) = raw else {
        return DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect();
    };
    if raw.is_empty() {
        errors.push(
            "regions",
            "at least one region is required (or omit `regions` for the built-in list)",
        );
    }
    let mut seen = FirstSeen::default();
    for (i, region) in raw.iter().enumerate() {
        let path = format!("regions[{i}]");
        if check_name(errors, &path, "region", region.as_str()) {
            seen.check(errors, &path, "region", region.as_str(), "regions", i);
        }
    }
    raw.into_iter().map(|t| t.0).collect()
}

// === helpers shared by the submodules ===

/// Collected errors.
#[derive(Default)]
pub(crate) struct Errors(Vec<ConfigError>);

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }
}

/// Checks a name against `[A-Za-z0-9._-]+`; returns whether it is valid.
pub(crate) fn check_name(errors: &mut Errors, path: &str, what: &str, name: &str) -> bool {
    if name.is_empty() {
        errors.push(path, format!("{what} must not be empty"));
        return false;
    }
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        errors.push(
            path,
            format!("invalid {what} {name:?}: use only letters, digits, '.', '_' and '-'"),
        );
    }
    valid
}

/// Remembers where each name was first defined, to report duplicates.
#[derive(Default)]
pub(crate) struct FirstSeen<'a>(HashMap<&'a str, usize>);

impl<'a> FirstSeen<'a> {
    /// Records `name` at index `i` of `list`, or reports it as a duplicate.
    pub(crate) fn check(
        &mut self,
        errors: &mut Errors,
        path: &str,
        what: &str,
        name: &'a str,
        list: &str,
        i: usize,
    ) {
        if let Some(first) = self.0.get(name) {
            errors.push(
                path,
                format!("duplicate {what} {name:?} (first defined at {list}[{first}])"),
            );
        } else {
            self.0.insert(name, i);
        }
    }
}

/// Checks a list of references at `{path}.{key}`: non-empty when given, each
/// entry known (when `known` is given) or non-empty text, none repeated.
/// Returns the entries as strings, or an empty list when absent.
pub(crate) fn check_refs(
    errors: &mut Errors,
    path: &str,
    key: &str,
    what: &str,
    items: Option<Vec<Text>>,
    known: Option<&[&str]>,
) -> Vec<String> {
    let Some(items) = items else {
        return Vec::new();
    };
    if items.is_empty() {
        errors.push(
            format!("{path}.{key}"),
            format!("must not be empty (omit {key} instead)"),
        );
    }
    let mut seen = FirstSeen::default();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}.{key}[{i}]");
        let name = item.as_str();
        match known {
            Some(known) if !known.contains(&name) => {
                errors.push(&item_path, unknown(what, name, known));
            }
            None if name.trim().is_empty() => {
                errors.push(&item_path, format!("{what} must not be empty"));
            }
            _ => {}
        }
        seen.check(errors, &item_path, what, name, key, i);
    }
    items.into_iter().map(|t| t.0).collect()
}

/// The index of tier `name`, or an error at `path`.
pub(crate) fn risk_tier(
    errors: &mut Errors,
    path: &str,
    name: &str,
    tiers: &[String],
) -> Option<usize> {
    let index = tiers.iter().position(|t| t == name);
    if index.is_none() {
        let known: Vec<&str> = tiers.iter().map(String::as_str).collect();
        errors.push(path, unknown("risk tier", name, &known));
    }
    index
}

/// Checks an amount is finite and ≥ 0.
pub(crate) fn check_amount(errors: &mut Errors, path: &str, value: Option<f64>, unit: &str) {
    if let Some(value) = value
        && (!value.is_finite() || value < 0.0)
    {
        errors.push(
            path,
            format!("must be a finite number ≥ 0 ({unit}), got {value}"),
        );
    }
}

/// Checks each rule name and reports duplicates at `{list}[i].name`.
pub(crate) fn check_rule_names<T>(
    errors: &mut Errors,
    list: &str,
    what: &str,
    rules: &[T],
    name: impl Fn(&T) -> &Text,
) {
    let mut seen = FirstSeen::default();
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("{list}[{i}].name");
        let rule_name = name(rule).as_str();
        if check_name(errors, &path, what, rule_name) {
            seen.check(errors, &path, what, rule_name, list, i);
        }
    }
}

/// `unknown provider "foo" (known: a, b)`.
pub(crate) fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    if known.is_empty() {
        format!("unknown {what} {name:?} (none are defined)")
    } else {
        let mut unique: Vec<&str> = Vec::with_capacity(known.len());
        for k in known {
            if !unique.contains(k) {
                unique.push(k);
            }
        }
        format!("unknown {what} {name:?} (known: {})", unique.join(", "))
    }
}
