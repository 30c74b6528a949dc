//! Risk tiers, tenants and anonymous access, the decision log.

use std::collections::HashMap;
use std::path::PathBuf;

use super::provider::validate_api_key;
use super::{Errors, FirstSeen, check_amount, check_name, check_refs, risk_tier, unknown};
use crate::model::{
    DEFAULT_RISK_TIERS, DEFAULT_TENANT, DecisionLogConfig, TenantConfig, TenantLimits,
};
use crate::raw::{RawApiKey, RawDecisionLog, RawTenant};
use crate::secret::hash_secret;
use crate::text::Text;
use crate::vars::VarSource;

#[cfg(test)]
mod tests;

pub(super) fn validate_risk_tiers(raw: Option<Vec<Text>>, errors: &mut Errors) -> Vec<String> {
    let Some(raw) = raw else {
        return DEFAULT_RISK_TIERS.iter().map(|t| (*t).to_owned()).collect();
    };
    if raw.is_empty() {
        errors.push(
            "risk-tiers",
            "at least one risk tier is required (or omit `risk-tiers` for the built-in list)",
        );
    }
    let mut seen = FirstSeen::default();
    for (i, tier) in raw.iter().enumerate() {
        let path = format!("risk-tiers[{i}]");
        if check_name(errors, &path, "risk tier", tier.as_str()) {
            seen.check(errors, &path, "risk tier", tier.as_str(), "risk-tiers", i);
        }
    }
    raw.into_iter().map(|t| t.0).collect()
}

/// What tenants are checked against.
pub(super) struct Scope<'a> {
    pub(super) regions: &'a [String],
    pub(super) risk_tiers: &'a [String],
    pub(super) vars: &'a dyn VarSource,
    pub(super) zones: &'a [String],
}

/// Returns the tenants (never empty) and the anonymous tenant.
pub(super) fn validate_tenants(
    raw: Option<Vec<RawTenant>>,
    anonymous: Option<Text>,
    scope: &Scope<'_>,
    errors: &mut Errors,
) -> (Vec<TenantConfig>, Option<String>) {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        let anonymous = anonymous.map_or_else(|| DEFAULT_TENANT.to_owned(), |t| t.0);
        if anonymous != DEFAULT_TENANT {
            errors.push(
                "anonymous-tenant",
                unknown("tenant", &anonymous, &[DEFAULT_TENANT]),
            );
        }
        return (vec![implicit_tenant(scope)], Some(anonymous));
    }

    let ids: Vec<String> = raw.iter().map(|t| t.id.0.clone()).collect();
    let mut seen = FirstSeen::default();
    for (i, id) in ids.iter().enumerate() {
        let path = format!("tenants[{i}].id");
        if check_name(errors, &path, "tenant id", id) {
            seen.check(errors, &path, "tenant id", id, "tenants", i);
        }
    }
    let anonymous = anonymous.map(|t| t.0);
    if let Some(name) = &anonymous
        && !ids.contains(name)
    {
        let known: Vec<&str> = ids.iter().map(String::as_str).collect();
        errors.push("anonymous-tenant", unknown("tenant", name, &known));
    }

    let mut key_owners = HashMap::new();
    let tenants = raw
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let is_anonymous = anonymous.as_deref() == Some(t.id.as_str());
            let path = format!("tenants[{i}]");
            validate_tenant(t, &path, is_anonymous, scope, &mut key_owners, errors)
        })
        .collect();
    (tenants, anonymous)
}

/// The tenant used when none are configured: everything allowed, no keys.
fn implicit_tenant(scope: &Scope<'_>) -> TenantConfig {
    TenantConfig {
        id: DEFAULT_TENANT.to_owned(),
        plan: DEFAULT_TENANT.to_owned(),
        api_key_hashes: Vec::new(),
        allowed_regions: scope.regions.to_vec(),
        preferred_regions: Vec::new(),
        risk_floor: 0,
        max_risk_tier: scope.risk_tiers.len().saturating_sub(1),
        require_retention: None,
        require_content_filter: None,
        log_content: false,
        monthly_budget_usd: None,
        limits: TenantLimits::default(),
        weight: 1.0,
        privacy: Vec::new(),
    }
}

fn validate_tenant(
    raw: RawTenant,
    path: &str,
    is_anonymous: bool,
    scope: &Scope<'_>,
    key_owners: &mut HashMap<[u8; 32], String>,
    errors: &mut Errors,
) -> TenantConfig {
    let RawTenant {
        id,
        plan,
        api_keys,
        allowed_regions,
        preferred_regions,
        risk_floor,
        max_risk_tier,
        require_retention,
        require_content_filter,
        log_content,
        monthly_budget_usd,
        limits,
        weight,
        privacy,
    } = raw;
    let defaults = implicit_tenant(scope);

    let plan = plan.map_or(defaults.plan, |p| {
        if p.as_str().trim().is_empty() {
            errors.push(
                format!("{path}.plan"),
                "plan must not be empty (omit it for \"default\")",
            );
        }
        p.0
    });

    let api_keys = api_keys.unwrap_or_default();
    if api_keys.is_empty() && !is_anonymous {
        errors.push(
            format!("{path}.api-keys"),
            "at least one key ({env: VAR} or {file: PATH}) is required unless this tenant is the anonymous-tenant",
        );
    }
    let api_key_hashes = hash_keys(api_keys, id.as_str(), path, scope, key_owners, errors);

    let known_regions: Vec<&str> = scope.regions.iter().map(String::as_str).collect();
    let allowed_regions = match allowed_regions {
        None => defaults.allowed_regions,
        given => check_refs(
            errors,
            path,
            "allowed-regions",
            "region",
            given,
            Some(&known_regions),
        ),
    };
    let preferred_regions = check_refs(
        errors,
        path,
        "preferred-regions",
        "region",
        preferred_regions,
        Some(&known_regions),
    );
    for (i, region) in preferred_regions.iter().enumerate() {
        if known_regions.contains(&region.as_str()) && !allowed_regions.contains(region) {
            errors.push(
                format!("{path}.preferred-regions[{i}]"),
                format!(
                    "region {region:?} is not in allowed-regions ({})",
                    allowed_regions.join(", ")
                ),
            );
        }
    }

    let tier = |errors: &mut Errors, key: &str, name: Option<Text>, default: usize| {
        name.and_then(|n| {
            risk_tier(
                errors,
                &format!("{path}.{key}"),
                n.as_str(),
                scope.risk_tiers,
            )
        })
        .unwrap_or(default)
    };
    let risk_floor = tier(errors, "risk-floor", risk_floor, defaults.risk_floor);
    let max_risk_tier = tier(
        errors,
        "max-risk-tier",
        max_risk_tier,
        defaults.max_risk_tier,
    );
    if max_risk_tier < risk_floor {
        let name = |i: usize| scope.risk_tiers.get(i).map_or("?", String::as_str);
        errors.push(
            format!("{path}.max-risk-tier"),
            format!(
                "max-risk-tier ({}) must not be below risk-floor ({})",
                name(max_risk_tier),
                name(risk_floor)
            ),
        );
    }
    let budget_path = format!("{path}.monthly-budget-usd");
    check_amount(errors, &budget_path, monthly_budget_usd, "USD");

    TenantConfig {
        id: id.0,
        plan,
        api_key_hashes,
        allowed_regions,
        preferred_regions,
        risk_floor,
        max_risk_tier,
        require_retention,
        require_content_filter,
        log_content: log_content.unwrap_or(defaults.log_content),
        monthly_budget_usd,
        limits: super::resilience::validate_limits(limits, path, errors),
        weight: super::resilience::validate_weight(weight, &format!("{path}.weight"), errors),
        privacy: super::privacy::validate_boundaries(
            privacy.unwrap_or_default(),
            scope.zones,
            &format!("{path}.privacy"),
            errors,
        ),
    }
}

/// Resolves and hashes each key; a key already held by a tenant is an error.
fn hash_keys(
    keys: Vec<RawApiKey>,
    tenant: &str,
    path: &str,
    scope: &Scope<'_>,
    key_owners: &mut HashMap<[u8; 32], String>,
    errors: &mut Errors,
) -> Vec<[u8; 32]> {
    let mut hashes = Vec::with_capacity(keys.len());
    for (j, key) in keys.into_iter().enumerate() {
        let key_path = format!("{path}.api-keys[{j}]");
        let Some(secret) = validate_api_key(Some(key), &key_path, scope.vars, errors) else {
            continue;
        };
        let hash = hash_secret(secret.expose());
        if let Some(owner) = key_owners.get(&hash) {
            errors.push(
                key_path,
                format!("the same key is already used by tenant {owner}"),
            );
        } else {
            key_owners.insert(hash, tenant.to_owned());
            hashes.push(hash);
        }
    }
    hashes
}

pub(super) fn validate_decision_log(
    raw: Option<RawDecisionLog>,
    errors: &mut Errors,
) -> DecisionLogConfig {
    let defaults = DecisionLogConfig::default();
    let Some(RawDecisionLog {
        enabled,
        path,
        retention,
        max_size_mb,
        queue,
        priority,
    }) = raw
    else {
        return defaults;
    };
    let path = path.map_or(defaults.path, |p| {
        if p.as_str().trim().is_empty() {
            errors.push("decision-log.path", "path must not be empty");
        }
        PathBuf::from(p.0)
    });
    let retention = match retention {
        Some(d) if d.is_zero() => {
            errors.push("decision-log.retention", "must be greater than 0");
            defaults.retention
        }
        Some(d) => d,
        None => defaults.retention,
    };
    let queue = match queue {
        Some(0) => {
            errors.push("decision-log.queue", "must be at least 1");
            defaults.queue
        }
        Some(n) => n,
        None => defaults.queue,
    };
    DecisionLogConfig {
        enabled: enabled.unwrap_or(defaults.enabled),
        path,
        retention,
        max_size_mb: max_size_mb.unwrap_or(defaults.max_size_mb),
        queue,
        priority: priority.unwrap_or(defaults.priority),
    }
}
