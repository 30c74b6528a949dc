//! Owns a shadow rule's hourly budget as the replicas share it: requests
//! and spend per clock hour, counted in the `state` backend's
//! [`signalbox_state::ShadowBudgetStore`] (so `requests-per-hour` holds for
//! the deployment, not per replica). Checked on the shadow task, off the
//! request path. When the store cannot be reached the replica counts on
//! the rule's own budget instead (per replica, as before the budget was
//! shared) and the fallback is counted in
//! `signalbox_state_fallbacks_total{store="shadow"}`.

use signalbox_core::metric_names as m;
use signalbox_state::{StateError, unix_ms, usd_to_micros};

use super::Rule;
use crate::AppState;

const HOUR_MS: u64 = 3_600_000;

/// Takes one request from the rule's budget for this hour; `false` when the
/// hour's requests or spend are used up.
pub(super) async fn take(state: &AppState, rule: &Rule) -> bool {
    let cfg = &rule.cfg;
    let hour = unix_ms() / HOUR_MS;
    let max_cost = cfg.cost_per_hour_usd.map(usd_to_micros);
    let store = &state.quality_state.shadow;
    match store
        .take(&cfg.name, hour, cfg.requests_per_hour, max_cost)
        .await
    {
        Ok(taken) => taken,
        Err(e) => {
            fell_back(state, &e);
            rule.budget
                .take(cfg.requests_per_hour, cfg.cost_per_hour_usd)
        }
    }
}

/// Adds a shadow answer's cost to the rule's spend for this hour.
pub(super) async fn spend(state: &AppState, rule: &Rule, cost_usd: f64) {
    let hour = unix_ms() / HOUR_MS;
    let store = &state.quality_state.shadow;
    if let Err(e) = store
        .spend(&rule.cfg.name, hour, usd_to_micros(cost_usd))
        .await
    {
        fell_back(state, &e);
        rule.budget.spend(cost_usd);
    }
}

fn fell_back(state: &AppState, err: &StateError) {
    state
        .telemetry
        .count(m::STATE_FALLBACKS_TOTAL, &[("store", "shadow")]);
    tracing::debug!(error = %err, "Shadow budget not shared; this replica counts on its own.");
}
