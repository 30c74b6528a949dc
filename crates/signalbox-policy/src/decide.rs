//! The decision: which rule applies, which routes are candidates, which pass
//! the hard constraints, and in what order to try them.

use http::HeaderMap;
use signalbox_config::{DegradeStep, FailureMode, PolicyRule, TenantConfig, Weights};
use signalbox_core::{AliasName, CandidateRecord, RouteIdx, RuleRecord};

use crate::PolicyError;
use crate::constraints::{self, Required, RouteCheck};
use crate::rank::{self, Observations, RankInput, Ranked};
use crate::rules::{self, Miss};
use crate::signals::Signals;
use crate::snapshot::{CompiledRule, PolicySnapshot};

/// The routes that may serve one request, best first, with the evidence.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The alias the caller asked for.
    pub alias: AliasName,
    /// Routes (their index in the configuration's routes), in the order to try.
    pub candidates: Vec<RouteIdx>,
    /// At most this many upstream attempts.
    pub max_attempts: usize,
    /// What to do when the candidates fail.
    pub failure_mode: FailureMode,
    /// Declared degradation steps (executed by the dispatcher).
    pub degrade: Vec<DegradeStep>,
    /// The matched rule's index, if a rule matched.
    pub rule: Option<usize>,
    /// Set when the policy refuses the request.
    pub refusal: Option<PolicyError>,
    rules_evaluated: Vec<(usize, Option<Miss>)>,
    checks: Vec<RouteCheck>,
    ranked: Vec<Ranked>,
    required: Required,
}

/// The rendered evidence of a decision, for the decision record.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// Every rule evaluated, in order.
    pub rules: Vec<RuleRecord>,
    /// Every candidate route with its verdicts.
    pub candidates: Vec<CandidateRecord>,
    /// Eligible route ids in the order they would be tried.
    pub ranking: Vec<String>,
}

/// Decides which routes may serve the request described by `s`.
///
/// The stages, in order: the first matching rule, the candidate chain checked
/// against what the request requires, the eligible routes ranked, then the
/// attempt budget and (when nothing is eligible) the refusal.
pub fn decide(
    snap: &PolicySnapshot,
    s: &Signals,
    headers: &HeaderMap,
    obs: &dyn Observations,
) -> Decision {
    let cfg = &snap.config;
    let alias_cfg = cfg.aliases.get(s.alias);
    let alias = alias_cfg.map_or_else(|| AliasName::new("-"), |a| a.name.clone());

    let (rules_evaluated, matched) = first_matching_rule(snap, s, headers);
    let rule = matched.and_then(|c| cfg.policy_rules.get(c.index));
    let required = required(cfg.tenants.get(s.tenant), rule);
    let checks = check_chain(snap, s, matched, &required);
    let eligible: Vec<RouteCheck> = checks
        .iter()
        .copied()
        .filter(RouteCheck::eligible)
        .collect();
    let ranked = rank::rank(&eligible, &rank_input(snap, s, matched, rule), obs);
    let candidates: Vec<RouteIdx> = ranked.iter().map(|r| RouteIdx::new(r.route)).collect();

    let failure_mode = rule.map_or(FailureMode::Degrade, |r| r.failure_mode);
    let degrade = rule.map_or_else(|| vec![DegradeStep::FallbackRoute], |r| r.degrade.clone());
    let budget = rule
        .and_then(|r| r.max_attempts)
        .or(alias_cfg.map(|a| a.max_attempts))
        .unwrap_or(candidates.len());
    let max_attempts = max_attempts(failure_mode, &degrade, budget);
    let refusal = candidates
        .is_empty()
        .then(|| refusal(snap, s, &alias, &checks, &required));

    Decision {
        alias,
        candidates,
        max_attempts,
        failure_mode,
        degrade,
        rule: matched.map(|c| c.index),
        refusal,
        rules_evaluated,
        checks,
        ranked,
        required,
    }
}

/// Every rule evaluated (with why it missed) up to and including the first
/// that matches, and that rule: first match wins.
fn first_matching_rule<'a>(
    snap: &'a PolicySnapshot,
    s: &Signals,
    headers: &HeaderMap,
) -> (Vec<(usize, Option<Miss>)>, Option<&'a CompiledRule>) {
    let mut evaluated = Vec::new();
    for compiled in &snap.rules {
        let Some(rule) = snap.config.policy_rules.get(compiled.index) else {
            continue;
        };
        match rules::check(snap, compiled, rule, s, headers) {
            Ok(()) => {
                evaluated.push((compiled.index, None));
                return (evaluated, Some(compiled));
            }
            Err(miss) => evaluated.push((compiled.index, Some(miss))),
        }
    }
    (evaluated, None)
}

/// What every route must meet: the stronger of the tenant's and the rule's
/// requirements, plus the rule's cost ceiling and whether it has a selector.
fn required(tenant: Option<&TenantConfig>, rule: Option<&PolicyRule>) -> Required {
    let retention = [
        tenant.and_then(|t| t.require_retention),
        rule.and_then(|r| r.require.retention),
    ]
    .into_iter()
    .flatten()
    .min();
    let content_filter = [
        tenant.and_then(|t| t.require_content_filter),
        rule.and_then(|r| r.require.content_filter),
    ]
    .into_iter()
    .flatten()
    .max();
    Required {
        retention,
        content_filter,
        max_cost_usd: rule.and_then(|r| r.objectives.max_cost_usd),
        has_selector: rule.is_some_and(|r| r.select.is_some()),
    }
}

/// The candidate chain (the matched rule's, else the alias's routes), each
/// route checked against the hard constraints, in declared order.
fn check_chain(
    snap: &PolicySnapshot,
    s: &Signals,
    matched: Option<&CompiledRule>,
    required: &Required,
) -> Vec<RouteCheck> {
    let alias_routes = snap
        .alias_routes
        .get(s.alias)
        .map_or(&[][..], Vec::as_slice);
    let chain: &[usize] = matched
        .and_then(|c| c.routes.as_deref())
        .unwrap_or(alias_routes);
    chain
        .iter()
        .map(|&idx| {
            let selected = matched.is_none_or(|c| c.selected.get(idx).copied().unwrap_or(false));
            constraints::check(snap, s, idx, selected, required)
        })
        .collect()
}

/// The ranking's inputs: preferences of the rule and tenant, the rule's
/// weights (preference only without a rule) and latency objective.
fn rank_input<'a>(
    snap: &'a PolicySnapshot,
    s: &Signals,
    matched: Option<&'a CompiledRule>,
    rule: Option<&PolicyRule>,
) -> RankInput<'a> {
    let tenant_pref = snap.tenant_preferred.get(s.tenant).copied().unwrap_or(0);
    RankInput {
        prefer: matched.map_or(&[][..], |c| c.prefer.as_slice()),
        prefer_regions: tenant_pref | matched.map_or(0, |c| c.prefer_regions),
        route_region: &snap.route_region,
        weights: rule.map_or(
            Weights {
                preference: 1.0,
                cost: 0.0,
                latency: 0.0,
            },
            |r| r.objectives.weights,
        ),
        latency_slo: rule.and_then(|r| r.objectives.latency_slo),
    }
}

/// The attempt budget: fail-closed flows, and flows whose degradation does
/// not include a fallback route, never move to another route.
fn max_attempts(failure_mode: FailureMode, degrade: &[DegradeStep], budget: usize) -> usize {
    let may_fall_back =
        failure_mode == FailureMode::Degrade && degrade.contains(&DegradeStep::FallbackRoute);
    if may_fall_back { budget.max(1) } else { 1 }
}

/// The refusal when no route is eligible, naming every route's failures.
fn refusal(
    snap: &PolicySnapshot,
    s: &Signals,
    alias: &AliasName,
    checks: &[RouteCheck],
    required: &Required,
) -> PolicyError {
    let reasons: Vec<String> = checks
        .iter()
        .filter(|c| !c.eligible())
        .map(|c| constraints::failures(snap, s, c, required))
        .collect();
    PolicyError::NoEligibleRoute {
        alias: alias.to_string(),
        reasons: if reasons.is_empty() {
            "the alias has no routes".into()
        } else {
            reasons.join("; ")
        },
    }
}

impl Decision {
    /// Whether `route` meets every hard constraint this decision required
    /// of its candidates (region, risk tier, retention, content filter,
    /// capabilities, context window, output limit, cost ceiling): the same
    /// check, for a route outside the candidate chain (a shadow route).
    pub fn admits(&self, snap: &PolicySnapshot, s: &Signals, route: RouteIdx) -> bool {
        constraints::check(snap, s, route.get(), true, &self.required).eligible()
    }

    /// Renders the evidence (rules, per-route verdicts, ranking) for the record.
    pub fn trace(&self, snap: &PolicySnapshot, s: &Signals) -> Trace {
        let cfg = &snap.config;
        let rules = self
            .rules_evaluated
            .iter()
            .filter_map(|&(i, miss)| {
                let rule = cfg.policy_rules.get(i)?;
                Some(RuleRecord {
                    name: rule.name.clone(),
                    matched: miss.is_none(),
                    failed: miss.map(|m| rules::render_miss(snap, rule, s, m)),
                })
            })
            .collect();
        let candidates = self
            .checks
            .iter()
            .map(|c| CandidateRecord {
                route: cfg
                    .routes
                    .get(c.route)
                    .map_or_else(String::new, |r| r.id.to_string()),
                eligible: c.eligible(),
                verdicts: constraints::render(snap, s, c, &self.required),
                score: self
                    .ranked
                    .iter()
                    .find(|r| r.route == c.route)
                    .map(|r| (r.score * 1000.0).round() / 1000.0),
                cost_estimate_usd: Some(c.cost_usd),
            })
            .collect();
        let ranking = self
            .candidates
            .iter()
            .filter_map(|&i| cfg.routes.get(i.get()).map(|r| r.id.to_string()))
            .collect();
        Trace {
            rules,
            candidates,
            ranking,
        }
    }

    /// Routes of the chain the policy excluded, with why — the reason a
    /// failure was not served elsewhere (`us: region us ∉ [eu] ✗`).
    pub fn excluded(&self, snap: &PolicySnapshot, s: &Signals) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.eligible())
            .map(|c| constraints::failures(snap, s, c, &self.required))
            .collect()
    }

    /// How many leading candidates share the best score: the group session
    /// stickiness spreads over (1 when the ranking has a clear winner).
    pub fn leading_ties(&self) -> usize {
        let Some(best) = self.ranked.first().map(|r| r.score) else {
            return 0;
        };
        self.ranked
            .iter()
            .take_while(|r| (r.score - best).abs() <= 1e-9)
            .count()
    }

    /// Whether the matched rule declares its requests irreversible.
    pub fn at_most_once(&self, snap: &PolicySnapshot) -> bool {
        self.rule
            .and_then(|i| snap.config.policy_rules.get(i))
            .is_some_and(|r| r.at_most_once)
    }

    /// The matched rule's name.
    pub fn rule_name<'a>(&self, snap: &'a PolicySnapshot) -> Option<&'a str> {
        self.rule
            .and_then(|i| snap.config.policy_rules.get(i))
            .map(|r| r.name.as_str())
    }
}
