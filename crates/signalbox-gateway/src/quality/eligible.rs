//! Owns where eval traffic may go. Scheduled runs call a route straight,
//! without the request path's privacy boundary, so a suite runs on a
//! route only where what it carries may go as written:
//!
//! - **tenant** (`quality.tenant`): the route must be one that tenant's
//!   requests may use: a region it is allowed, retention at least as
//!   strict and a content filter at least as strong as it requires (the
//!   policy's hard constraints);
//! - **data classes** (the suite's `data_classes`): for each class, the
//!   boundary guarding the route's zone (the eval tenant's own, else the
//!   gateway's) must leave it as written (`allow`, or not name it): a
//!   zone that redacts, tokenises or blocks a class never receives it raw.
//!
//! The same check keeps judge traffic (which carries the case and the
//! answer) on routes where the suite's data may go.

use signalbox_config::{Config, RouteConfig, TenantConfig};
use signalbox_core::privacy_spec::{Action, DataClass, PrivacySpec};

use super::schedule::SkipReason;

/// Why `suite_classes` may not go to `route`, if they may not.
pub(crate) fn check(
    cfg: &Config,
    route: &RouteConfig,
    suite_classes: &[String],
) -> Result<(), (SkipReason, String)> {
    let tenant = tenant(cfg);
    if let Some(t) = tenant {
        tenant_may_use(t, route).map_err(|why| (SkipReason::Tenant, why))?;
    }
    let Some(spec) = boundary(cfg, tenant, route.zone) else {
        return Ok(());
    };
    for class in suite_classes {
        if let Some(action) = action(spec, class).filter(|a| *a != Action::Allow) {
            let zone = cfg
                .privacy
                .zones
                .get(route.zone)
                .map_or("?", String::as_str);
            return Err((
                SkipReason::DataClass,
                format!(
                    "data class {class}: zone {zone} of route {} would {} it",
                    route.id,
                    verb(action)
                ),
            ));
        }
    }
    Ok(())
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

/// The boundary guarding `zone`: the tenant's own, else the gateway's.
fn boundary<'a>(
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
