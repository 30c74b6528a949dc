//! Owns what one arm of a canary step showed as plain counters, the form
//! in which replicas add their traffic up through the state backend
//! ([`signalbox_state::CanaryStore::count`]): requests, errors, priced
//! requests and their cost (nano-dollars), judged and valid answers, and
//! latencies as a histogram (buckets growing by a quarter, so a shared
//! p95 is within a quarter of the true one). Each replica flushes what it
//! counted since its last flush from the canary's background task (once
//! a second), never from the request path.

use signalbox_state::StepCounts;

/// Latency buckets: bucket `i` holds latencies up to `GROWTH^i` ms.
const BUCKETS: usize = 64;
const GROWTH: f64 = 1.25;

/// One arm's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counts {
    pub requests: u64,
    pub errors: u64,
    pub costed: u64,
    pub cost_nanos: u64,
    pub scored: u64,
    pub passed: u64,
    /// Requests per latency bucket (empty: none measured).
    pub latency: Vec<u64>,
}

/// The bucket of a latency.
pub(crate) fn bucket(latency_ms: f64) -> usize {
    if latency_ms <= 1.0 || latency_ms.is_nan() {
        return 0;
    }
    let i = (latency_ms.ln() / GROWTH.ln()).ceil();
    // In 1..BUCKETS: the cast cannot truncate.
    (i.min((BUCKETS - 1) as f64)) as usize
}

/// What a bucket's latencies count as: its upper bound.
pub(crate) fn bucket_ms(i: usize) -> f64 {
    GROWTH.powi(i32::try_from(i).unwrap_or(i32::MAX))
}

/// A cost in nano-dollars (what the store adds up).
pub(crate) fn nanos(usd: f64) -> u64 {
    // Costs are small and positive; a negative or NaN one counts as 0.
    (usd * 1e9).round().max(0.0) as u64
}

const FIELDS: [&str; 6] = [
    "requests",
    "errors",
    "costed",
    "cost_nanos",
    "scored",
    "passed",
];

impl Counts {
    fn fields(&self) -> [u64; 6] {
        [
            self.requests,
            self.errors,
            self.costed,
            self.cost_nanos,
            self.scored,
            self.passed,
        ]
    }

    fn fields_mut(&mut self) -> [&mut u64; 6] {
        [
            &mut self.requests,
            &mut self.errors,
            &mut self.costed,
            &mut self.cost_nanos,
            &mut self.scored,
            &mut self.passed,
        ]
    }

    /// Counts one latency.
    pub fn time(&mut self, latency_ms: f64) {
        let b = bucket(latency_ms);
        if self.latency.len() <= b {
            self.latency.resize(b + 1, 0);
        }
        self.latency[b] += 1;
    }

    /// `self − earlier` (what was counted since `earlier`).
    pub fn since(&self, earlier: &Self) -> Self {
        let mut out = self.clone();
        for (o, e) in out.fields_mut().into_iter().zip(earlier.fields()) {
            *o = o.saturating_sub(e);
        }
        for (o, e) in out.latency.iter_mut().zip(&earlier.latency) {
            *o = o.saturating_sub(*e);
        }
        out
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Self) {
        for (o, n) in self.fields_mut().into_iter().zip(other.fields()) {
            *o += n;
        }
        if self.latency.len() < other.latency.len() {
            self.latency.resize(other.latency.len(), 0);
        }
        for (o, n) in self.latency.iter_mut().zip(&other.latency) {
            *o += n;
        }
    }

    /// The counters under `arm.` names, zeros left out.
    pub fn write(&self, arm: &str, out: &mut StepCounts) {
        for (name, n) in FIELDS.into_iter().zip(self.fields()) {
            if n > 0 {
                out.insert(format!("{arm}.{name}"), n);
            }
        }
        for (i, n) in self.latency.iter().enumerate().filter(|(_, n)| **n > 0) {
            out.insert(format!("{arm}.lat.{i}"), *n);
        }
    }

    /// Adds the counters under `arm.` names of `counts` (others ignored).
    pub fn read(&mut self, arm: &str, counts: &StepCounts) {
        for (name, n) in counts {
            let Some(field) = name.strip_prefix(arm).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            if let Some(i) = field
                .strip_prefix("lat.")
                .and_then(|i| i.parse::<usize>().ok())
            {
                if i < BUCKETS {
                    let mut one = Self::default();
                    one.latency.resize(i + 1, 0);
                    one.latency[i] = *n;
                    self.add(&one);
                }
            } else if let Some(at) = FIELDS.iter().position(|f| *f == field)
                && let Some(slot) = self.fields_mut().into_iter().nth(at)
            {
                *slot += n;
            }
        }
    }

    /// Latencies measured.
    pub fn timed(&self) -> u64 {
        self.latency.iter().sum()
    }
}

/// The 95th-percentile of `local` (exact latencies, any order) and
/// `others`' histogram together; `None` when neither measured any.
pub(crate) fn p95(local: &[f64], others: &Counts) -> Option<f64> {
    let total = local.len() as u64 + others.timed();
    if total == 0 {
        return None;
    }
    let mut all: Vec<(f64, u64)> = local.iter().map(|l| (*l, 1)).collect();
    all.extend(
        others
            .latency
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (bucket_ms(i), *n)),
    );
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The rank of the 95th percentile, 1-based (as the local p95 counts it).
    let rank = (total * 95).div_ceil(100).max(1);
    let mut seen = 0;
    all.into_iter().find_map(|(v, n)| {
        seen += n;
        (seen >= rank).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip_by_arm_and_deltas_subtract() {
        let mut c = Counts {
            requests: 3,
            errors: 1,
            costed: 2,
            cost_nanos: nanos(0.000_015),
            ..Counts::default()
        };
        c.time(120.0);
        c.time(0.5);
        let mut out = StepCounts::new();
        c.write("c", &mut out);
        Counts::default().write("b", &mut out);
        assert_eq!(out.get("c.cost_nanos"), Some(&15_000));
        assert!(!out.contains_key("c.scored"), "zeros left out");
        let mut back = Counts::default();
        back.read("c", &out);
        assert_eq!(back, c);
        let mut b = Counts::default();
        b.read("b", &out);
        assert_eq!(b, Counts::default(), "the other arm's names are not ours");
        let later = {
            let mut l = c.clone();
            l.requests += 2;
            l.time(120.0);
            l
        };
        let d = later.since(&c);
        assert_eq!((d.requests, d.errors, d.timed()), (2, 0, 1));
    }

    #[test]
    fn a_shared_p95_merges_exact_latencies_with_the_others_buckets() {
        assert_eq!(p95(&[], &Counts::default()), None);
        let exact: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(
            p95(&exact, &Counts::default()),
            Some(19.0),
            "local only: exact"
        );
        let mut slow = Counts::default();
        for _ in 0..80 {
            slow.time(1000.0);
        }
        let merged = p95(&exact, &slow).unwrap();
        assert!((1000.0..1250.0).contains(&merged), "{merged}");
        assert!(bucket(1000.0) > bucket(800.0) && bucket_ms(bucket(1000.0)) >= 1000.0);
    }
}
