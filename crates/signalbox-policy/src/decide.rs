//! The decision: which rule applies, which routes are candidates, which pass
//! the hard constraints, and in what order to try them.

use http::HeaderMap;
use signalbox_config::{DegradeStep, FailureMode, Weights};
use signalbox_core::{AliasName, CandidateRecord, RouteIdx, RuleRecord};

use crate::PolicyError;
use crate::constraints::{self, Required, RouteCheck};
use crate::rank::{self, Observations, RankInput, Ranked};
use crate::rules::{self, Miss};
use crate::signals::Signals;
use crate::snapshot::PolicySnapshot;

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
pub fn decide(
    snap: &PolicySnapshot,
    s: &Signals,
    headers: &HeaderMap,
    obs: &dyn Observations,
) -> Decision {
    let cfg = &snap.config;
    let alias_cfg = cfg.aliases.get(s.alias);
    let alias = alias_cfg.map_or_else(|| AliasName::new("-"), |a| a.name.clone());
    let tenant = cfg.tenants.get(s.tenant);

    // First matching rule wins.
    let mut rules_evaluated = Vec::new();
    let mut matched = None;
    for compiled in &snap.rules {
        let Some(rule) = cfg.policy_rules.get(compiled.index) else {
            continue;
        };
        match rules::check(snap, compiled, rule, s, headers) {
            Ok(()) => {
                rules_evaluated.push((compiled.index, None));
                matched = Some(compiled);
                break;
            }
            Err(miss) => rules_evaluated.push((compiled.index, Some(miss))),
        }
    }
    let rule = matched.and_then(|c| cfg.policy_rules.get(c.index));

    // Candidate set: the rule's chain, else the alias's routes.
    let alias_routes = snap
        .alias_routes
        .get(s.alias)
        .map_or(&[][..], Vec::as_slice);
    let chain: &[usize] = matched
        .and_then(|c| c.routes.as_deref())
        .unwrap_or(alias_routes);

    let strongest_retention = [
        tenant.and_then(|t| t.require_retention),
        rule.and_then(|r| r.require.retention),
    ]
    .into_iter()
    .flatten()
    .min();
    let strongest_filter = [
        tenant.and_then(|t| t.require_content_filter),
        rule.and_then(|r| r.require.content_filter),
    ]
    .into_iter()
    .flatten()
    .max();
    let required = Required {
        retention: strongest_retention,
        content_filter: strongest_filter,
        max_cost_usd: rule.and_then(|r| r.objectives.max_cost_usd),
        has_selector: rule.is_some_and(|r| r.select.is_some()),
    };
    let checks: Vec<RouteCheck> = chain
        .iter()
        .map(|&idx| {
            let selected = matched.is_none_or(|c| c.selected.get(idx).copied().unwrap_or(false));
            constraints::check(snap, s, idx, selected, &required)
        })
        .collect();
    let eligible: Vec<RouteCheck> = checks
        .iter()
        .copied()
        .filter(RouteCheck::eligible)
        .collect();

    let tenant_pref = snap.tenant_preferred.get(s.tenant).copied().unwrap_or(0);
    let input = RankInput {
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
    };
    let ranked = rank::rank(&eligible, &input, obs);
    let candidates: Vec<RouteIdx> = ranked.iter().map(|r| RouteIdx::new(r.route)).collect();

    let failure_mode = rule.map_or(FailureMode::Degrade, |r| r.failure_mode);
    let degrade = rule.map_or_else(|| vec![DegradeStep::FallbackRoute], |r| r.degrade.clone());
    // Fail-closed flows, and flows whose degradation does not include a
    // fallback route, never move to another route.
    let may_fall_back =
        failure_mode == FailureMode::Degrade && degrade.contains(&DegradeStep::FallbackRoute);
    let budget = rule
        .and_then(|r| r.max_attempts)
        .or(alias_cfg.map(|a| a.max_attempts))
        .unwrap_or(candidates.len());
    let max_attempts = if may_fall_back { budget.max(1) } else { 1 };

    let refusal = candidates.is_empty().then(|| {
        let reasons: Vec<String> = checks
            .iter()
            .filter(|c| !c.eligible())
            .map(|c| constraints::failures(snap, s, c, &required))
            .collect();
        PolicyError::NoEligibleRoute {
            alias: alias.to_string(),
            reasons: if reasons.is_empty() {
                "the alias has no routes".into()
            } else {
                reasons.join("; ")
            },
        }
    });

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

impl Decision {
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
