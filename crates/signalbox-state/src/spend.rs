//! Per-tenant spend against `tenants[].monthly-budget-usd`: the period (a
//! calendar month, UTC), the spend store (in-process here; Redis in
//! `signalbox-state-redis`) and the admission check.
//!
//! Spend is counted in integer micro-dollars so adding is exact and atomic
//! in every backend (Redis `INCRBY`). The check happens before dispatch and
//! spend is added after a call completes, so requests admitted while the
//! tenant was under budget may take it over (the overshoot is bounded by
//! what is in flight at that moment; docs/configuration.md says so).
//!
//! Callers pass the current time (Unix seconds) in, so the month rollover is
//! tested with an injected clock rather than the wall clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::{BoxFuture, StateError};

/// Micro-dollars per dollar.
pub const MICROS_PER_USD: f64 = 1_000_000.0;

/// One calendar month in UTC: the budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: i64,
    /// 1–12.
    month: u32,
}

impl Period {
    /// The month containing `unix_secs`.
    pub fn containing(unix_secs: u64) -> Self {
        let days = i64::try_from(unix_secs / 86_400).unwrap_or(i64::MAX);
        let (year, month, _) = civil_from_days(days);
        Self { year, month }
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Unix seconds at 00:00:00 UTC on the 1st of this month.
    pub fn start_unix(self) -> u64 {
        let days = days_from_civil(self.year, self.month, 1);
        u64::try_from(days.saturating_mul(86_400)).unwrap_or(0)
    }

    /// Unix seconds when the next period starts (this one's budget resets).
    pub fn reset_unix(self) -> u64 {
        self.next().start_unix()
    }

    /// `YYYY-MM`, the form used in store keys.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's
/// `civil_from_days`, exact for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01 (inverse of the above).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Spend accounting per tenant and period, in micro-dollars.
pub trait SpendStore: Send + Sync + std::fmt::Debug {
    /// What `tenant` has spent in `period`.
    fn spent<'a>(
        &'a self,
        tenant: &'a str,
        period: Period,
    ) -> BoxFuture<'a, Result<u64, StateError>>;

    /// Adds `micros` to `tenant`'s spend in `period`; resolves to the new
    /// total. The returned future owns what it needs, so a finished stream
    /// can hand it to a task; the in-process store has already added when
    /// this returns.
    fn add(
        &self,
        tenant: &str,
        period: Period,
        micros: u64,
    ) -> BoxFuture<'static, Result<u64, StateError>>;
}

/// The in-process spend store: one counter per tenant for the current
/// period (an older period's counter is replaced when a new one starts).
/// Owned by the gateway, not by a configuration, so reloads keep it.
#[derive(Debug, Clone, Default)]
pub struct InMemorySpend {
    spend: Arc<Mutex<HashMap<String, (Period, u64)>>>,
}

impl SpendStore for InMemorySpend {
    fn spent<'a>(
        &'a self,
        tenant: &'a str,
        period: Period,
    ) -> BoxFuture<'a, Result<u64, StateError>> {
        let spent = match self.spend.lock().get(tenant) {
            Some((p, micros)) if *p == period => *micros,
            _ => 0,
        };
        Box::pin(std::future::ready(Ok(spent)))
    }

    fn add(
        &self,
        tenant: &str,
        period: Period,
        micros: u64,
    ) -> BoxFuture<'static, Result<u64, StateError>> {
        let mut map = self.spend.lock();
        let entry = map.entry(tenant.to_owned()).or_insert((period, 0));
        if entry.0 < period {
            *entry = (period, 0);
        }
        // A late add for a period already over never counts against the new one.
        let total = if entry.0 == period {
            entry.1 = entry.1.saturating_add(micros);
            entry.1
        } else {
            0
        };
        Box::pin(std::future::ready(Ok(total)))
    }
}

/// A tenant whose monthly budget is spent.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetExceeded {
    /// The configured budget, USD.
    pub budget_usd: f64,
    /// Spent this period, USD.
    pub spent_usd: f64,
    /// Unix seconds when the next period starts.
    pub resets_at_unix: u64,
    /// Time until then.
    pub retry_after: Duration,
}

/// Admits a request of `tenant` when its spend this period (at `now_unix`)
/// is below `budget_usd`, or says when the budget resets.
pub async fn check_budget(
    store: &dyn SpendStore,
    tenant: &str,
    budget_usd: f64,
    now_unix: u64,
) -> Result<Result<(), BudgetExceeded>, StateError> {
    let period = Period::containing(now_unix);
    let spent = store.spent(tenant, period).await?;
    let spent_usd = spent as f64 / MICROS_PER_USD;
    if spent_usd < budget_usd {
        return Ok(Ok(()));
    }
    let resets_at_unix = period.reset_unix();
    Ok(Err(BudgetExceeded {
        budget_usd,
        spent_usd,
        resets_at_unix,
        retry_after: Duration::from_secs(resets_at_unix.saturating_sub(now_unix).max(1)),
    }))
}

/// `usd` as whole micro-dollars, rounded up so a tiny call still counts.
pub fn usd_to_micros(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * MICROS_PER_USD).ceil() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
