//! Owns what shadow traffic has shown, per shadow route (kept across
//! reloads, per replica): requests mirrored, skipped (by reason) and
//! failed, agreement with the served answers per scorer, and the mean
//! latency and cost deltas; and each rule's hourly budget.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde_json::{Value, json};
use signalbox_eval::Verdict;
use tokio::time::{Duration, Instant};

/// One shadow route's numbers.
#[derive(Debug, Default)]
struct RouteBoard {
    mirrored: u64,
    errors: u64,
    compared: u64,
    skipped: BTreeMap<&'static str, u64>,
    /// Per scorer: (agreed, judged).
    agreement: BTreeMap<&'static str, (u64, u64)>,
    latency_delta_ms: Mean,
    cost_delta_usd: Mean,
}

#[derive(Debug, Default, Clone, Copy)]
struct Mean {
    sum: f64,
    n: u64,
}

impl Mean {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
    }

    fn get(self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// What one compared shadow answer adds.
#[derive(Debug)]
pub(crate) struct Compared<'a> {
    pub verdicts: &'a [Verdict],
    pub latency_delta_ms: Option<f64>,
    pub cost_delta_usd: Option<f64>,
}

/// Every shadow route's numbers.
#[derive(Debug, Default)]
pub(crate) struct Board(Mutex<BTreeMap<String, RouteBoard>>);

impl Board {
    fn with<T>(&self, route: &str, f: impl FnOnce(&mut RouteBoard) -> T) -> T {
        let mut all = self.0.lock();
        let board = match all.get_mut(route) {
            Some(b) => b,
            None => all.entry(route.to_owned()).or_default(),
        };
        f(board)
    }

    /// A request the rule matched but did not mirror.
    pub fn skipped(&self, route: &str, reason: &'static str) {
        self.with(route, |b| *b.skipped.entry(reason).or_default() += 1);
    }

    /// A request mirrored.
    pub fn mirrored(&self, route: &str) {
        self.with(route, |b| b.mirrored += 1);
    }

    /// A mirrored request the shadow route did not answer.
    pub fn failed(&self, route: &str) {
        self.with(route, |b| b.errors += 1);
    }

    /// A shadow answer scored against the served one.
    pub fn compared(&self, route: &str, c: &Compared<'_>) {
        self.with(route, |b| {
            b.compared += 1;
            for v in c.verdicts {
                let a = b.agreement.entry(v.scorer.label()).or_default();
                a.0 += u64::from(v.passed);
                a.1 += 1;
            }
            if let Some(d) = c.latency_delta_ms {
                b.latency_delta_ms.add(d);
            }
            if let Some(d) = c.cost_delta_usd {
                b.cost_delta_usd.add(d);
            }
        });
    }

    /// The means, for the gauges.
    pub fn deltas(&self, route: &str) -> (Option<f64>, Option<f64>) {
        self.with(route, |b| {
            (b.latency_delta_ms.get(), b.cost_delta_usd.get())
        })
    }

    /// `GET /admin/shadow`'s routes.
    pub fn report(&self) -> Value {
        let all = self.0.lock();
        let routes: Vec<Value> = all
            .iter()
            .map(|(route, b)| {
                let agreement: serde_json::Map<String, Value> = b
                    .agreement
                    .iter()
                    .map(|(scorer, &(agreed, judged))| {
                        let rate = agreed as f64 / judged.max(1) as f64;
                        (
                            (*scorer).to_owned(),
                            json!({"agreed": agreed, "judged": judged, "rate": rate}),
                        )
                    })
                    .collect();
                json!({
                    "route": route,
                    "mirrored": b.mirrored,
                    "compared": b.compared,
                    "errors": b.errors,
                    "skipped": b.skipped,
                    "agreement": agreement,
                    "mean_latency_delta_ms": b.latency_delta_ms.get(),
                    "mean_cost_delta_usd": b.cost_delta_usd.get(),
                })
            })
            .collect();
        Value::Array(routes)
    }
}

/// One rule's hourly budget: requests, and spend once answers are priced.
#[derive(Debug)]
pub(crate) struct Budget(Mutex<Window>);

#[derive(Debug)]
struct Window {
    started: Instant,
    requests: u64,
    cost_usd: f64,
}

const HOUR: Duration = Duration::from_secs(3600);

impl Default for Budget {
    fn default() -> Self {
        Self(Mutex::new(Window {
            started: Instant::now(),
            requests: 0,
            cost_usd: 0.0,
        }))
    }
}

impl Budget {
    /// Takes one request from this hour's budget; `false` when the hour's
    /// requests or spend are used up.
    pub fn take(&self, max_requests: u64, max_cost_usd: Option<f64>) -> bool {
        let mut w = self.0.lock();
        if w.started.elapsed() >= HOUR {
            *w = Window {
                started: Instant::now(),
                requests: 0,
                cost_usd: 0.0,
            };
        }
        if w.requests >= max_requests || max_cost_usd.is_some_and(|max| w.cost_usd >= max) {
            return false;
        }
        w.requests += 1;
        true
    }

    /// Adds a shadow answer's cost to this hour's spend.
    pub fn spend(&self, cost_usd: f64) {
        self.0.lock().cost_usd += cost_usd;
    }
}

#[cfg(test)]
mod tests {
    use signalbox_eval::Answer;
    use signalbox_eval::score::refusal::Detector;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_budget_holds_for_an_hour_then_refills() {
        let b = Budget::default();
        assert!(b.take(2, None));
        assert!(b.take(2, None));
        assert!(!b.take(2, None));
        tokio::time::advance(HOUR).await;
        assert!(b.take(2, Some(0.01)));
        b.spend(0.02);
        assert!(!b.take(2, Some(0.01)), "the hour's spend is used up");
    }

    #[test]
    fn the_report_shows_agreement_per_scorer_and_mean_deltas() {
        let board = Board::default();
        let d = Detector::new(None);
        board.mirrored("r");
        board.skipped("r", "stream");
        let agree = vec![d.score(false, &Answer::text("hi"))];
        let disagree = vec![d.score(false, &Answer::text("I must decline."))];
        for (v, lat) in [(&agree, 10.0), (&disagree, 30.0)] {
            board.compared(
                "r",
                &Compared {
                    verdicts: v,
                    latency_delta_ms: Some(lat),
                    cost_delta_usd: None,
                },
            );
        }
        let r = &board.report()[0];
        assert_eq!(r["agreement"]["refusal"]["rate"], 0.5);
        assert_eq!(r["mean_latency_delta_ms"], 20.0);
        assert_eq!(r["skipped"]["stream"], 1);
        assert!(r["mean_cost_delta_usd"].is_null());
    }
}
