//! Rule matching: each condition of a rule's `when`, in a fixed order; the
//! first that fails is recorded so the decision can say why a rule did not
//! match.

use http::HeaderMap;
use signalbox_config::PolicyRule;

use crate::signals::Signals;
use crate::snapshot::{CompiledRule, PolicySnapshot};

/// The condition that stopped a rule from matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    Tenant,
    Plan,
    Alias,
    Intent,
    RiskTier,
    Region,
    Tools,
    Header(usize),
}

/// Checks every condition of `rule` in order.
pub(crate) fn check(
    snap: &PolicySnapshot,
    compiled: &CompiledRule,
    rule: &PolicyRule,
    s: &Signals,
    headers: &HeaderMap,
) -> Result<(), Miss> {
    let w = &rule.when;
    if !w.tenants.is_empty() && !compiled.tenants.contains(&s.tenant) {
        return Err(Miss::Tenant);
    }
    if !w.plans.is_empty() {
        let plan = snap.config.tenants.get(s.tenant).map(|t| t.plan.as_str());
        if !w.plans.iter().any(|p| Some(p.as_str()) == plan) {
            return Err(Miss::Plan);
        }
    }
    if !w.aliases.is_empty() && !compiled.aliases.contains(&s.alias) {
        return Err(Miss::Alias);
    }
    if !w.intents.is_empty() && !w.intents.contains(&s.intent) {
        return Err(Miss::Intent);
    }
    if !w.risk_tiers.is_empty() && !w.risk_tiers.contains(&s.risk_tier) {
        return Err(Miss::RiskTier);
    }
    if !w.regions.is_empty() && !region_matches(compiled.regions, s) {
        return Err(Miss::Region);
    }
    let has_tools = !s.tools.is_empty();
    if w.tools.is_some_and(|t| t != has_tools) {
        return Err(Miss::Tools);
    }
    for (i, (name, value)) in w.headers.iter().enumerate() {
        if headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(value.as_str()) {
            return Err(Miss::Header(i));
        }
    }
    Ok(())
}

/// A request is "in" a set of regions when it asked for one of them, or,
/// without a region header, when every region its tenant may use is in the
/// set (the request is bound to those regions either way).
fn region_matches(mask: u64, s: &Signals) -> bool {
    if s.requested_region.is_some() {
        return s.allowed_regions & mask != 0;
    }
    s.allowed_regions != 0 && s.allowed_regions & !mask == 0
}

/// Explains a miss, e.g. `tenants: globex ∉ [acme]`.
pub(crate) fn render_miss(
    snap: &PolicySnapshot,
    rule: &PolicyRule,
    s: &Signals,
    miss: Miss,
) -> String {
    let cfg = &snap.config;
    let w = &rule.when;
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    match miss {
        Miss::Tenant => {
            format!(
                "tenants: {} ∉ {}",
                cfg.tenants.get(s.tenant).map_or("-", |t| t.id.as_str()),
                list(&w.tenants)
            )
        }
        Miss::Plan => {
            format!(
                "plans: {} ∉ {}",
                cfg.tenants.get(s.tenant).map_or("-", |t| t.plan.as_str()),
                list(&w.plans)
            )
        }
        Miss::Alias => {
            format!(
                "aliases: {} ∉ {}",
                cfg.aliases.get(s.alias).map_or("-", |a| a.name.as_str()),
                list(&w.aliases)
            )
        }
        Miss::Intent => format!("intents: {} ∉ {}", s.intent, list(&w.intents)),
        Miss::RiskTier => {
            let names: Vec<String> = w
                .risk_tiers
                .iter()
                .filter_map(|&i| cfg.risk_tiers.get(i).cloned())
                .collect();
            format!(
                "risk-tiers: {} ∉ {}",
                cfg.risk_tiers.get(s.risk_tier).map_or("?", String::as_str),
                list(&names)
            )
        }
        Miss::Region => format!(
            "regions: [{}] ⊄ {}",
            snap.region_names(s.allowed_regions).join(", "),
            list(&w.regions)
        ),
        Miss::Tools => format!(
            "tools: {} ≠ {}",
            !s.tools.is_empty(),
            w.tools.unwrap_or_default()
        ),
        Miss::Header(i) => match w.headers.get(i) {
            Some((name, value)) => format!("headers: {name} ≠ {value:?}"),
            None => "headers".to_string(),
        },
    }
}
