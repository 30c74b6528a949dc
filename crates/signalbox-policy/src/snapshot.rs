//! A read-only view of the configuration prepared for fast decisions:
//! string lookups are resolved to indices and region sets to bit masks once
//! per load, so a decision compares integers.

use std::collections::HashMap;
use std::sync::Arc;

use signalbox_config::{Capability, Config, PolicyRule};
use signalbox_core::RouteId;

/// Regions are tracked as bits of a `u64`; the first 64 known regions
/// participate in region constraints (validation keeps the list short).
pub(crate) type RegionMask = u64;

/// One rule with its names resolved.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    /// Index in `config.policy_rules`.
    pub index: usize,
    pub tenants: Vec<usize>,
    pub aliases: Vec<usize>,
    pub regions: RegionMask,
    /// Explicit chain, as route indices.
    pub routes: Option<Vec<usize>>,
    /// Per route: whether the rule's selector admits it (all true without a selector).
    pub selected: Vec<bool>,
    /// Preferred routes, in order.
    pub prefer: Vec<usize>,
    pub prefer_regions: RegionMask,
}

/// The policy's lookup tables for one configuration.
#[derive(Debug)]
pub struct PolicySnapshot {
    pub(crate) config: Arc<Config>,
    pub(crate) aliases: HashMap<String, usize>,
    pub(crate) alias_routes: Vec<Vec<usize>>,
    pub(crate) known_models: String,
    pub(crate) keys: HashMap<[u8; 32], usize>,
    pub(crate) anonymous: Option<usize>,
    pub(crate) route_region: Vec<RegionMask>,
    pub(crate) tenant_allowed: Vec<RegionMask>,
    pub(crate) tenant_preferred: Vec<RegionMask>,
    pub(crate) region_index: HashMap<String, usize>,
    pub(crate) rules: Vec<CompiledRule>,
}

impl PolicySnapshot {
    /// Prepares the tables. Route indices follow `config.routes`.
    pub fn new(config: Arc<Config>) -> Self {
        let region_index: HashMap<String, usize> = config
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.clone(), i))
            .collect();
        let mask = |names: &[String]| -> RegionMask {
            names
                .iter()
                .filter_map(|n| region_index.get(n))
                .filter(|&&i| i < 64)
                .fold(0, |m, &i| m | (1u64 << i))
        };
        let route_index: HashMap<&RouteId, usize> = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (&r.id, i))
            .collect();
        let idx = |ids: &[RouteId]| -> Vec<usize> {
            ids.iter()
                .filter_map(|id| route_index.get(id).copied())
                .collect()
        };
        let aliases = config
            .aliases
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.to_string(), i))
            .collect();
        let alias_routes = config.aliases.iter().map(|a| idx(&a.routes)).collect();
        let mut names: Vec<&str> = config.aliases.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        let mut keys = HashMap::new();
        for (t, tenant) in config.tenants.iter().enumerate() {
            for h in &tenant.api_key_hashes {
                keys.insert(*h, t);
            }
        }
        let anonymous = config
            .anonymous_tenant
            .as_ref()
            .and_then(|id| config.tenants.iter().position(|t| &t.id == id));
        let route_region = config
            .routes
            .iter()
            .map(|r| mask(std::slice::from_ref(&r.region)))
            .collect();
        let tenant_allowed = config
            .tenants
            .iter()
            .map(|t| mask(&t.allowed_regions))
            .collect();
        let tenant_preferred = config
            .tenants
            .iter()
            .map(|t| mask(&t.preferred_regions))
            .collect();
        let rules = config
            .policy_rules
            .iter()
            .enumerate()
            .map(|(index, rule)| compile_rule(index, rule, &config, &idx, &mask))
            .collect();
        Self {
            aliases,
            alias_routes,
            known_models: names.join(", "),
            keys,
            anonymous,
            route_region,
            tenant_allowed,
            tenant_preferred,
            region_index,
            rules,
            config,
        }
    }

    /// The configuration this snapshot was built from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The alias names clients may ask for, sorted.
    pub fn model_names(&self) -> impl Iterator<Item = &str> {
        self.known_models.split(", ").filter(|s| !s.is_empty())
    }

    /// Renders a region mask as names.
    pub(crate) fn region_names(&self, mask: RegionMask) -> Vec<&str> {
        self.config
            .regions
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && mask & (1 << i) != 0)
            .map(|(_, r)| r.as_str())
            .collect()
    }
}

fn compile_rule(
    index: usize,
    rule: &PolicyRule,
    config: &Config,
    idx: &dyn Fn(&[RouteId]) -> Vec<usize>,
    mask: &dyn Fn(&[String]) -> RegionMask,
) -> CompiledRule {
    let tenants = rule
        .when
        .tenants
        .iter()
        .filter_map(|t| config.tenants.iter().position(|c| &c.id == t))
        .collect();
    let aliases = rule
        .when
        .aliases
        .iter()
        .filter_map(|a| config.aliases.iter().position(|c| c.name.as_str() == a))
        .collect();
    let selected = config
        .routes
        .iter()
        .map(|r| match &rule.select {
            None => true,
            Some(sel) => {
                (sel.regions.is_empty() || sel.regions.contains(&r.region))
                    && (sel.providers.is_empty()
                        || sel.providers.iter().any(|p| p == r.provider.as_str()))
                    && sel.supports.iter().all(|c| match c {
                        Capability::Tools => r.supports.tools,
                        Capability::Vision => r.supports.vision,
                        Capability::JsonMode => r.supports.json_mode,
                        Capability::Streaming => r.supports.streaming,
                    })
            }
        })
        .collect();
    CompiledRule {
        index,
        tenants,
        aliases,
        regions: mask(&rule.when.regions),
        routes: rule.routes.as_ref().map(|r| idx(r)),
        selected,
        prefer: idx(&rule.objectives.prefer),
        prefer_regions: mask(&rule.objectives.prefer_regions),
    }
}
