//! Owns where eval traffic may go. Scheduled runs call a route straight,
//! without the request path's privacy boundary, so a suite runs on a
//! route only where what it carries may go as written:
//!
//! - **tenant** (`quality.tenant`): the route must be one that tenant's
//!   requests may use: a region it is allowed, a highest risk tier at
//!   least its risk floor, retention at least as strict and a content
//!   filter at least as strong as it requires (the policy's hard
//!   constraints);
//! - **data classes** (the suite's `data_classes`): for each class, every
//!   boundary the request path could apply at the route's zone to a
//!   request of the eval tenant with the suite's intents must leave it as
//!   written (`allow`, or not name it): a zone that redacts, tokenises or
//!   blocks a class never receives it raw. The request path applies the
//!   matched policy rule's boundary, else the tenant's, else the
//!   gateway's; eval traffic matches no rule for certain (its alias,
//!   headers, region and tools are not a client's), so every rule that
//!   could match it (its tenant, plan and intent conditions do not rule it
//!   out) counts, up to the first that surely matches.
//!
//! The same check keeps judge traffic (which carries the case and the
//! answer) on routes where the suite's data may go; its intent is the
//! judge request's own, so there every rule the tenant may match counts.

use signalbox_config::{Config, PolicyRule, RouteConfig, TenantConfig};
use signalbox_core::privacy_spec::{Action, DataClass, PrivacySpec};

use super::schedule::SkipReason;

/// Why `suite_classes` may not go to `route`, if they may not. `intents`
/// are the intents the suite's cases stand for (`None`: any intent).
pub(crate) fn check(
    cfg: &Config,
    route: &RouteConfig,
    suite_classes: &[String],
    intents: Option<&[&str]>,
) -> Result<(), (SkipReason, String)> {
    let tenant = tenant(cfg);
    if let Some(t) = tenant {
        tenant_may_use(t, route).map_err(|why| (SkipReason::Tenant, why))?;
    }
    if suite_classes.is_empty() {
        return Ok(());
    }
    let zone = cfg
        .privacy
        .zones
        .get(route.zone)
        .map_or("?", String::as_str);
    for (rule, spec) in boundaries(cfg, tenant, route.zone, intents) {
        for class in suite_classes {
            if let Some(action) = action(spec, class).filter(|a| *a != Action::Allow) {
                let whose = rule.map_or_else(String::new, |r| format!("rule {r}'s boundary at "));
                return Err((
                    SkipReason::DataClass,
                    format!(
                        "data class {class}: {whose}zone {zone} of route {} would {} it",
                        route.id,
                        verb(action)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether a rule matches eval traffic, as far as can be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Its tenant, plan or intent conditions rule the traffic out.
    Never,
    /// It may match (a condition eval traffic does not settle).
    Maybe,
    /// It matches every request of the traffic.
    Surely,
}

/// Every boundary the request path could apply at `zone` to eval traffic:
/// each rule's that may match (named), up to the first that surely does,
/// and the tenant's or gateway's (unnamed) unless a surely matching rule
/// replaces it.
fn boundaries<'a>(
    cfg: &'a Config,
    tenant: Option<&'a TenantConfig>,
    zone: usize,
    intents: Option<&[&str]>,
) -> Vec<(Option<&'a str>, &'a PrivacySpec)> {
    let mut out = Vec::new();
    for rule in &cfg.policy_rules {
        let m = matches(rule, tenant, intents);
        if m == Match::Never {
            continue;
        }
        let own = rule.privacy.iter().find(|b| b.zone == zone);
        if let Some(b) = own {
            out.push((Some(rule.name.as_str()), &b.spec));
        }
        if m == Match::Surely {
            if own.is_some() {
                return out;
            }
            break;
        }
    }
    if let Some(spec) = fallback(cfg, tenant, zone) {
        out.push((None, spec));
    }
    out
}

/// How `rule` matches requests of `tenant` (`None`: unknown) with one of
/// `intents` (`None`: any).
fn matches(rule: &PolicyRule, tenant: Option<&TenantConfig>, intents: Option<&[&str]>) -> Match {
    let w = &rule.when;
    let mut sure = true;
    match tenant {
        Some(t) => {
            if (!w.tenants.is_empty() && !w.tenants.contains(&t.id))
                || (!w.plans.is_empty() && !w.plans.contains(&t.plan))
            {
                return Match::Never;
            }
        }
        None => sure &= w.tenants.is_empty() && w.plans.is_empty(),
    }
    if !w.intents.is_empty() {
        match intents {
            Some(list) if list.iter().all(|i| !w.intents.iter().any(|x| x == i)) => {
                return Match::Never;
            }
            Some(list) => sure &= list.iter().all(|i| w.intents.iter().any(|x| x == i)),
            None => sure = false,
        }
    }
    // Conditions eval traffic does not settle: a client's alias, risk
    // tier, region, tools and headers.
    sure &= w.aliases.is_empty()
        && w.risk_tiers.is_empty()
        && w.regions.is_empty()
        && w.tools.is_none()
        && w.headers.is_empty();
    if sure { Match::Surely } else { Match::Maybe }
}

/// The eval tenant, when `quality.tenant` names one.
pub(crate) fn tenant(cfg: &Config) -> Option<&TenantConfig> {
    let id = cfg.quality.tenant.as_deref()?;
    cfg.tenants.iter().find(|t| t.id == id)
}

/// Whether `t`'s requests may use `route`, by its hard constraints.
fn tenant_may_use(t: &TenantConfig, route: &RouteConfig) -> Result<(), String> {
    let mut failed = Vec::new();
    if !t.allowed_regions.contains(&route.region) {
        failed.push(format!(
            "region {} ∉ [{}]",
            route.region,
            t.allowed_regions.join(", ")
        ));
    }
    if route.max_risk_tier < t.risk_floor {
        // Its requests are at least at the tenant's risk floor.
        failed.push("risk tier: the tenant's floor is above the route's highest".to_owned());
    }
    if t.require_retention
        .is_some_and(|need| route.retention > need)
    {
        failed.push(format!("retention {}", route.retention.as_str()));
    }
    if t.require_content_filter
        .is_some_and(|need| route.content_filter < need)
    {
        failed.push("content filter below the tenant's".to_owned());
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "tenant {} may not use route {}: {}",
        t.id,
        route.id,
        failed.join(", ")
    ))
}

/// The boundary guarding `zone` when no rule's does: the tenant's own,
/// else the gateway's.
fn fallback<'a>(
    cfg: &'a Config,
    tenant: Option<&'a TenantConfig>,
    zone: usize,
) -> Option<&'a PrivacySpec> {
    let own = tenant.and_then(|t| t.privacy.iter().find(|b| b.zone == zone));
    own.or_else(|| cfg.privacy.boundaries.iter().find(|b| b.zone == zone))
        .map(|b| &b.spec)
}

/// What `spec` does with `class` (a built-in label or a custom class's
/// name); `None` when it does not name it.
fn action(spec: &PrivacySpec, class: &str) -> Option<Action> {
    if let Some(builtin) = DataClass::ALL.iter().find(|c| c.label() == class) {
        return spec.classes.get(builtin).copied();
    }
    spec.custom
        .iter()
        .find(|c| c.name == class)
        .map(|c| c.action)
        .or_else(|| {
            spec.dictionaries
                .iter()
                .find(|d| d.name == class)
                .map(|d| d.action)
        })
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Redact => "redact",
        Action::Tokenise => "tokenise",
        Action::Block => "block",
        Action::Allow => "allow",
    }
}

/// Whether `class` is a class some boundary can know: a built-in label
/// or a custom class's name in any boundary (a misspelt class would
/// otherwise go everywhere unchecked).
pub(crate) fn known_class(cfg: &Config, class: &str) -> bool {
    if DataClass::ALL.iter().any(|c| c.label() == class) {
        return true;
    }
    let names = |spec: &PrivacySpec| {
        spec.custom.iter().any(|c| c.name == class)
            || spec.dictionaries.iter().any(|d| d.name == class)
    };
    cfg.privacy.boundaries.iter().any(|b| names(&b.spec))
        || cfg
            .tenants
            .iter()
            .flat_map(|t| &t.privacy)
            .any(|b| names(&b.spec))
        || cfg
            .policy_rules
            .iter()
            .flat_map(|r| &r.privacy)
            .any(|b| names(&b.spec))
}

#[cfg(test)]
mod tests;
