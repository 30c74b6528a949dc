//! Owns `tenants[].monthly-budget-usd` on the request path: the check before
//! dispatch (429 `budget_exceeded` until the next calendar month, UTC) and
//! the spend added when a call completes, priced from the provider's
//! normalised usage and the serving route's prices (streams when they end).
//!
//! The store is the gateway's, not the configuration's, so a reload keeps
//! every tenant's spend. A request admitted under budget may take the tenant
//! over it: spend is known only once the call is done (docs/configuration.md).

use std::sync::Arc;

use futures::FutureExt;
use signalbox_config::TenantConfig;
use signalbox_core::Usage;
use signalbox_core::metric_names as m;
use signalbox_state::{BoxFuture, Period, StateError, check_budget, unix_ms, usd_to_micros};

use crate::AppState;
use crate::respond::ApiError;
use crate::runtime::Runtime;

/// What a stream's spend is priced from when it ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamCharge {
    /// The tenant (index into the configuration's tenants).
    pub tenant: usize,
    /// The gateway's prompt-token estimate.
    pub prompt_tokens: u64,
}

impl StreamCharge {
    /// Usage for a stream whose upstream reported none (the caller did not
    /// ask for `stream_options.include_usage`): the prompt estimate, and
    /// one completion token per event forwarded (events ≈ tokens).
    pub fn estimate(self, events: u64) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: events,
        }
    }
}

/// Refuses the request when `tenant`'s budget for this month is spent.
/// A store that cannot answer admits it (budgets fail open).
pub(crate) async fn check(state: &AppState, tenant: &TenantConfig) -> Result<(), ApiError> {
    let Some(budget_usd) = tenant.monthly_budget_usd else {
        return Ok(());
    };
    let now = unix_ms() / 1000;
    match check_budget(state.spend.as_ref(), &tenant.id, budget_usd, now).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            state.telemetry.count(
                m::TENANT_BUDGET_EXCEEDED_TOTAL,
                &[("tenant", tenant.id.as_str())],
            );
            Err(ApiError::BudgetExceeded {
                budget_usd: e.budget_usd,
                spent_usd: e.spent_usd,
                resets_at: humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.resets_at_unix),
                )
                .to_string(),
                retry_after_secs: e.retry_after.as_secs().max(1),
            })
        }
        Err(e) => {
            tracing::debug!(tenant = %tenant.id, error = %e, "Budget unknown; admitting.");
            Ok(())
        }
    }
}

/// Adds what a completed call cost to `tenant`'s spend this month (only for
/// tenants with a budget). The in-process store adds at once; a networked
/// store's write finishes on a task, off the response path.
pub(crate) fn charge(
    state: &Arc<AppState>,
    runtime: &Runtime,
    tenant: Option<&TenantConfig>,
    route: signalbox_core::RouteIdx,
    usage: Option<Usage>,
) {
    let (Some(tenant), Some(usage), Some(r)) = (
        tenant.filter(|t| t.monthly_budget_usd.is_some()),
        usage,
        runtime.route_config(route),
    ) else {
        return;
    };
    let micros = usd_to_micros(
        r.price
            .cost_usd(usage.prompt_tokens, usage.completion_tokens),
    );
    if micros == 0 {
        return;
    }
    let period = Period::containing(unix_ms() / 1000);
    let added = state.spend.add(&tenant.id, period, micros);
    let telemetry = state.telemetry.clone();
    let id = tenant.id.clone();
    finish(added, move |total| {
        telemetry.set_gauge(
            m::TENANT_SPEND_USD,
            &[("tenant", id.as_str())],
            total as f64 / signalbox_state::MICROS_PER_USD,
        );
    });
}

/// Runs `done` with the new total: now when the store already answered,
/// else on a task (without a runtime, e.g. a stream dropped at shutdown,
/// the write is lost).
fn finish(
    mut added: BoxFuture<'static, Result<u64, StateError>>,
    done: impl FnOnce(u64) + Send + 'static,
) {
    let report = |r: Result<u64, StateError>| match r {
        Ok(total) => done(total),
        Err(e) => tracing::debug!(error = %e, "Spend not recorded."),
    };
    // Polled once in place: a pending write is kept and finished on a task.
    if let Some(r) = (&mut added).now_or_never() {
        return report(r);
    }
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move { report(added.await) });
    }
}
