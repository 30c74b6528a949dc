//! Owns when each route's suites run and whether a run may spend: the
//! interval with jitter (a deterministic share of `quality.jitter` per
//! route and run, seeded per replica, so routes and replicas drift apart
//! instead of running in step), the per-route hourly budget of requests
//! and cost (a run that would exceed it is skipped), and every skip with
//! its reason, counted and kept for `GET /admin/routes`. A route that is
//! not judged is never silently so.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use parking_lot::Mutex;
use serde_json::{Value, json};
use signalbox_config::QualityBudget;
use tokio::time::{Duration, Instant};

/// The budget's window.
const HOUR: Duration = Duration::from_secs(3600);

/// Why a route (or one suite on it) was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SkipReason {
    /// The run would exceed the route's hourly request or cost budget.
    Budget,
    /// A data class the suite carries may not go to the route as written.
    DataClass,
    /// The eval tenant may not use the route (region, retention, content filter).
    Tenant,
}

impl SkipReason {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::DataClass => "data_class",
            Self::Tenant => "tenant",
        }
    }
}

/// Every route's schedule, kept across configuration reloads.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    /// Mixed into the jitter, so replicas do not run in step.
    seed: u64,
    routes: Mutex<HashMap<String, RouteSchedule>>,
}

#[derive(Debug, Default)]
struct RouteSchedule {
    /// When the next run is due (`None`: now).
    next: Option<Instant>,
    /// Runs started (skipped ones included): seeds the jitter.
    runs: u64,
    /// The budget's hour, when one started.
    window: Option<Instant>,
    /// Spent in the budget's hour.
    requests: u32,
    cost_usd: f64,
    /// The last run's cost per request, to estimate the next run's.
    cost_per_request: Option<f64>,
    /// Skips by reason.
    skipped: BTreeMap<SkipReason, u64>,
    /// The last skip, in words.
    last_skip: Option<String>,
}

impl Schedule {
    /// A schedule whose jitter is seeded by `seed` (the replica id).
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            routes: Mutex::default(),
        }
    }

    /// Whether `route` is due a run at `now`; when it is, the run after it
    /// is planned (`every` plus this run's share of `jitter`).
    pub(crate) fn take_due(
        &self,
        route: &str,
        now: Instant,
        every: Duration,
        jitter: Duration,
    ) -> bool {
        let mut routes = self.routes.lock();
        let r = routes.entry(route.to_owned()).or_default();
        if r.next.is_some_and(|next| now < next) {
            return false;
        }
        r.runs += 1;
        let share = jitter.mul_f64(self.share(route, r.runs));
        r.next = Some(now + every + share);
        true
    }

    /// A deterministic share in [0, 1) for `route`'s run `n`.
    fn share(&self, route: &str, n: u64) -> f64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.seed, route, n).hash(&mut h);
        // 53 bits: exactly representable in an f64.
        (h.finish() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether a run of `requests` requests fits `route`'s hourly budget
    /// at `now`; `Err` says why not (the caller counts the skip).
    pub(crate) fn admit(
        &self,
        route: &str,
        now: Instant,
        requests: u32,
        budget: QualityBudget,
    ) -> Result<(), String> {
        let mut routes = self.routes.lock();
        let r = routes.entry(route.to_owned()).or_default();
        r.roll(now);
        if let Some(limit) = budget.requests_per_hour
            && r.requests.saturating_add(requests) > limit
        {
            return Err(format!(
                "budget: a run of {requests} request(s) would exceed {limit} per hour ({} used)",
                r.requests
            ));
        }
        if let Some(limit) = budget.cost_per_hour_usd {
            let estimate = r.cost_per_request.unwrap_or(0.0) * f64::from(requests);
            if r.cost_usd >= limit || r.cost_usd + estimate > limit {
                return Err(format!(
                    "budget: a run estimated at ${estimate:.4} would exceed ${limit:.4} per hour (${:.4} used)",
                    r.cost_usd
                ));
            }
        }
        Ok(())
    }

    /// Counts what a run spent.
    pub(crate) fn spend(&self, route: &str, now: Instant, requests: u32, cost_usd: f64) {
        let mut routes = self.routes.lock();
        let r = routes.entry(route.to_owned()).or_default();
        r.roll(now);
        r.requests = r.requests.saturating_add(requests);
        r.cost_usd += cost_usd;
        if requests > 0 {
            r.cost_per_request = Some(cost_usd / f64::from(requests));
        }
    }

    /// Keeps a skip of `route` (or of one suite on it).
    pub(crate) fn skip(&self, route: &str, reason: SkipReason, detail: &str) {
        let mut routes = self.routes.lock();
        let r = routes.entry(route.to_owned()).or_default();
        *r.skipped.entry(reason).or_default() += 1;
        r.last_skip = Some(detail.to_owned());
    }

    /// `route`'s schedule for `GET /admin/routes`.
    pub(crate) fn view(&self, route: &str, now: Instant, budget: QualityBudget) -> Value {
        let routes = self.routes.lock();
        let Some(r) = routes.get(route) else {
            return json!({"runs": 0});
        };
        let skipped: BTreeMap<&str, u64> = r.skipped.iter().map(|(k, v)| (k.label(), *v)).collect();
        let in_window = r.window.is_some_and(|w| now.duration_since(w) < HOUR);
        json!({
            "runs": r.runs,
            "next_run_in_ms": r.next.map(|n| n.saturating_duration_since(now).as_millis() as u64),
            "budget": {
                "requests_per_hour": budget.requests_per_hour,
                "cost_per_hour_usd": budget.cost_per_hour_usd,
                "requests_this_hour": if in_window { r.requests } else { 0 },
                "cost_this_hour_usd": if in_window { r.cost_usd } else { 0.0 },
            },
            "skipped": skipped,
            "last_skip": r.last_skip,
        })
    }
}

impl RouteSchedule {
    /// Starts a new budget hour when the last one is over.
    fn roll(&mut self, now: Instant) {
        if self.window.is_none_or(|w| now.duration_since(w) >= HOUR) {
            self.window = Some(now);
            self.requests = 0;
            self.cost_usd = 0.0;
        }
    }
}

#[cfg(test)]
mod tests;
