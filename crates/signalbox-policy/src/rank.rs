//! Objectives: rank the routes that passed every hard constraint.
//!
//! The order is deterministic: routes within the latency SLO come first;
//! then by score (weighted preference, cost and latency, each scaled to
//! 0–1 among the eligible routes); ties keep the preference order.
//! Preference order is: the rule's `prefer` list, then routes in preferred
//! regions (the rule's and the tenant's), then the declared chain order.

use std::time::Duration;

use signalbox_config::Weights;
use signalbox_core::RouteIdx;

use crate::constraints::RouteCheck;
use crate::snapshot::RegionMask;

/// Observed route behaviour the ranking may use (kept by the dispatcher).
pub trait Observations {
    /// The route's recent latency estimate, if it has served recently.
    fn latency(&self, route: RouteIdx) -> Option<Duration>;
}

/// No observations (simulation, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObservations;

impl Observations for NoObservations {
    fn latency(&self, _route: RouteIdx) -> Option<Duration> {
        None
    }
}

/// What ranking needs from the rule and tenant.
pub(crate) struct RankInput<'a> {
    pub prefer: &'a [usize],
    pub prefer_regions: RegionMask,
    pub route_region: &'a [RegionMask],
    pub weights: Weights,
    pub latency_slo: Option<Duration>,
}

/// A ranked route with its score.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranked {
    pub route: usize,
    pub score: f64,
}

/// Ranks eligible checks (given in declared chain order).
pub(crate) fn rank(
    eligible: &[RouteCheck],
    input: &RankInput<'_>,
    obs: &dyn Observations,
) -> Vec<Ranked> {
    let n = eligible.len();
    if n == 0 {
        return Vec::new();
    }
    // Preference position.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| {
        let r = eligible[i].route;
        let explicit = input
            .prefer
            .iter()
            .position(|&p| p == r)
            .unwrap_or(usize::MAX);
        let region = input.route_region.get(r).copied().unwrap_or(0);
        let in_preferred = input.prefer_regions != 0 && region & input.prefer_regions != 0;
        (explicit, !in_preferred, i)
    });
    let mut pref_pos = vec![0usize; n];
    for (pos, &i) in order.iter().enumerate() {
        pref_pos[i] = pos;
    }
    let (cmin, cmax) = min_max(eligible.iter().map(|c| c.cost_usd));
    let latencies: Vec<Option<f64>> = eligible
        .iter()
        .map(|c| obs.latency(RouteIdx::new(c.route)).map(|d| d.as_secs_f64()))
        .collect();
    let (lmin, lmax) = min_max(latencies.iter().flatten().copied());
    let w = input.weights;
    let mut ranked: Vec<(bool, Ranked, usize)> = eligible
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let pref = 1.0 - pref_pos[i] as f64 / n as f64;
            let cost = scaled(c.cost_usd, cmin, cmax);
            let lat = latencies[i].map_or(0.5, |l| scaled(l, lmin, lmax));
            let score = w.preference * pref + w.cost * cost + w.latency * lat;
            let within_slo = match (input.latency_slo, latencies[i]) {
                (Some(slo), Some(l)) => l <= slo.as_secs_f64(),
                _ => true,
            };
            (
                within_slo,
                Ranked {
                    route: c.route,
                    score,
                },
                pref_pos[i],
            )
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.score.total_cmp(&a.1.score))
            .then(a.2.cmp(&b.2))
    });
    ranked.into_iter().map(|(_, r, _)| r).collect()
}

/// 1 for the lowest value, 0 for the highest (1 when all are equal).
fn scaled(v: f64, min: f64, max: f64) -> f64 {
    if max > min {
        1.0 - (v - min) / (max - min)
    } else {
        1.0
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}
