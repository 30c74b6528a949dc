//! Owns the gateway's Prometheus metrics. Each gateway has its own recorder
//! (not the process-global one), so several gateways in one test process
//! keep separate counts. Per-route handles are registered once per
//! configuration load, so the hot path only bumps atomics.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use signalbox_core::OutcomeClass;
use signalbox_core::metric_names as m;

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Latency buckets in seconds, from a fast cache-like answer to a long
/// generation.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Which client deadline passed (`signalbox_client_timeouts_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTimeout {
    /// The request head did not arrive in `server.header-read-timeout`.
    Header,
    /// No request came in `server.keep-alive-timeout`.
    Idle,
    /// The request body did not arrive in `server.body-read-timeout`.
    Body,
}

impl ClientTimeout {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Idle => "idle",
            Self::Body => "body",
        }
    }
}

/// The gateway's metrics registry and exporter.
pub struct Telemetry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Requests currently being handled.
    pub in_flight: Gauge,
    /// `requests_total` handles already registered, so that counting a
    /// request is a hash lookup and an atomic add, not a registration.
    requests: RequestCounters,
}

/// `requests_total` handles by (alias, route, status). Keyed by a hash of
/// the borrowed names, so a lookup allocates nothing; each bucket keeps the
/// names to tell collisions apart. Aliases and routes come from the
/// configuration and statuses are a small set, so it stays small.
#[derive(Default)]
struct RequestCounters {
    hasher: RandomState,
    map: parking_lot::RwLock<HashMap<u64, Vec<RequestCounter>>>,
}

struct RequestCounter {
    alias: Box<str>,
    route: Box<str>,
    status: u16,
    counter: Counter,
}

impl RequestCounters {
    fn key(&self, alias: &str, route: &str, status: u16) -> u64 {
        self.hasher.hash_one((alias, route, status))
    }

    fn get(&self, key: u64, alias: &str, route: &str, status: u16) -> Option<Counter> {
        self.map.read().get(&key).and_then(|bucket| {
            bucket
                .iter()
                .find(|c| c.status == status && &*c.alias == alias && &*c.route == route)
                .map(|c| c.counter.clone())
        })
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

/// Pre-registered handles for one route.
#[derive(Debug, Clone)]
pub struct RouteMetrics {
    attempts: Vec<Counter>,
    /// Upstream latency until the answer was in hand.
    pub upstream_duration: Histogram,
    /// Streams that ended with an error event after commit.
    pub stream_errors: Counter,
}

impl RouteMetrics {
    /// The attempts counter for one outcome class.
    pub fn attempt(&self, class: OutcomeClass) -> Option<&Counter> {
        self.attempts.get(class.index())
    }
}

impl Telemetry {
    /// A fresh registry.
    pub fn new() -> Result<Self, String> {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .map_err(|e| e.to_string())?
            .build_recorder();
        let handle = recorder.handle();
        let in_flight = recorder.register_gauge(&Key::from_static_name(m::IN_FLIGHT), &METADATA);
        Ok(Self {
            recorder,
            handle,
            in_flight,
            requests: RequestCounters::default(),
        })
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram buffers; call periodically.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Registers the handles for a route.
    pub fn route(&self, route: &str, provider: &str) -> RouteMetrics {
        let attempts = OutcomeClass::ALL
            .iter()
            .map(|c| {
                self.counter(
                    m::UPSTREAM_ATTEMPTS_TOTAL,
                    vec![
                        Label::new("route", route.to_string()),
                        Label::new("provider", provider.to_string()),
                        Label::new("outcome", c.label()),
                    ],
                )
            })
            .collect();
        let upstream_duration = self.histogram(
            m::UPSTREAM_DURATION,
            vec![Label::new("route", route.to_string())],
        );
        let stream_errors = self.counter(
            m::STREAM_ERRORS_TOTAL,
            vec![Label::new("route", route.to_string())],
        );
        RouteMetrics {
            attempts,
            upstream_duration,
            stream_errors,
        }
    }

    /// The request-duration histogram of an alias.
    pub fn alias_duration(&self, alias: &str) -> Histogram {
        self.histogram(
            m::REQUEST_DURATION,
            vec![Label::new("alias", alias.to_string())],
        )
    }

    /// Counts a finished request.
    pub fn request_done(&self, alias: &str, route: &str, status: u16) {
        let key = self.requests.key(alias, route, status);
        if let Some(counter) = self.requests.get(key, alias, route, status) {
            counter.increment(1);
            return;
        }
        let counter = self.counter(
            m::REQUESTS_TOTAL,
            vec![
                Label::new("alias", alias.to_string()),
                Label::new("route", route.to_string()),
                Label::new("status", status.to_string()),
            ],
        );
        counter.increment(1);
        // Two requests may have registered the same series at once (the
        // registry gives both the same handle): keep one entry.
        let mut map = self.requests.map.write();
        let bucket = map.entry(key).or_default();
        if !bucket
            .iter()
            .any(|c| c.status == status && &*c.alias == alias && &*c.route == route)
        {
            bucket.push(RequestCounter {
                alias: alias.into(),
                route: route.into(),
                status,
                counter,
            });
        }
    }

    /// The accepted-connections counter of one serving worker.
    pub fn connections(&self, worker: &str) -> Counter {
        self.counter(
            m::CONNECTIONS_TOTAL,
            vec![Label::new("worker", worker.to_owned())],
        )
    }

    /// Records how long a serving worker took to warm up before serving.
    pub fn warm_up(&self, worker: &str, took: Duration) {
        self.set_gauge(
            m::WARM_UP_SECONDS,
            &[("worker", worker)],
            took.as_secs_f64(),
        );
    }

    /// The counter of connections refused by the connection cap.
    pub fn connections_refused(&self) -> Counter {
        self.counter(m::CONNECTIONS_REFUSED_TOTAL, Vec::new())
    }

    /// The counter of one kind of client deadline passing.
    pub fn client_timeout(&self, phase: ClientTimeout) -> Counter {
        self.counter(
            m::CLIENT_TIMEOUTS_TOTAL,
            vec![Label::new("phase", phase.label())],
        )
    }

    /// Counts an `accept` failure that was not the client's.
    pub fn accept_error(&self) {
        self.counter(m::ACCEPT_ERRORS_TOTAL, Vec::new())
            .increment(1);
    }

    /// Publishes the open client connections and their cap (read at
    /// scrape time).
    pub fn connections_open(&self, open: usize, limit: usize) {
        // Precision above 2^53 connections does not matter.
        #[expect(clippy::cast_precision_loss, reason = "gauge values")]
        let (open, limit) = (open as f64, limit as f64);
        self.set_gauge(m::OPEN_CONNECTIONS, &[], open);
        self.set_gauge(m::CONNECTION_LIMIT, &[], limit);
    }

    /// Counts a configuration reload attempt by its `result` label (`ok`,
    /// `unchanged`, `error`: `ReloadOutcome::metric_label`,
    /// `ReloadError::metric_label`).
    pub fn reload(&self, result: &'static str) {
        self.counter(m::CONFIG_RELOADS_TOTAL, vec![Label::new("result", result)])
            .increment(1);
    }

    /// Publishes the decision log's counters (read at scrape time).
    pub fn decision_log(&self, written: u64, dropped: u64, errors: u64) {
        self.counter(m::DECISION_LOG_WRITTEN_TOTAL, Vec::new())
            .absolute(written);
        self.counter(m::DECISION_LOG_DROPPED_TOTAL, Vec::new())
            .absolute(dropped);
        self.counter(m::DECISION_LOG_ERRORS_TOTAL, Vec::new())
            .absolute(errors);
    }

    /// Publishes how often the shared quality marks (route and intent
    /// gates) fell back to this replica's local view: a publish or refresh
    /// that failed (read at scrape time; nothing while none did, so the
    /// in-process store adds no series).
    pub fn quality_mark_fallbacks(&self, failures: u64) {
        if failures > 0 {
            self.counter(
                m::STATE_FALLBACKS_TOTAL,
                vec![Label::new("store", "quality")],
            )
            .absolute(failures);
        }
    }

    /// Counts an error returned to a caller.
    pub fn error(&self, class: &'static str) {
        self.counter(m::ERRORS_TOTAL, vec![Label::new("class", class)])
            .increment(1);
    }

    /// Counts one increment of a labelled counter (the degradation, skip,
    /// stop, limit, idempotency and probe counters).
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.count_n(name, labels, 1);
    }

    /// Publishes every route's breaker state, degraded flag and open count
    /// (read at scrape time; the request path never touches these).
    pub fn route_health(&self, runtime: &crate::Runtime) {
        for r in &runtime.routes {
            let view = r.health.view();
            let route = r.id.as_str();
            let state = match view.state {
                "closed" => 0.0,
                "half-open" => 1.0,
                _ => 2.0,
            };
            self.set_gauge(m::ROUTE_BREAKER_STATE, &[("route", route)], state);
            let degraded = if view.slow || view.cooling_down {
                1.0
            } else {
                0.0
            };
            self.set_gauge(m::ROUTE_DEGRADED, &[("route", route)], degraded);
            self.counter(
                m::ROUTE_BREAKER_OPENED_TOTAL,
                vec![Label::new("route", route.to_owned())],
            )
            .absolute(view.times_opened);
        }
    }

    /// Adds `n` to a labelled counter.
    pub fn count_n(&self, name: &'static str, labels: &[(&'static str, &str)], n: u64) {
        self.counter(name, owned_labels(labels)).increment(n);
    }

    /// Sets a labelled gauge (route health).
    pub fn set_gauge(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        self.recorder
            .register_gauge(&Key::from_parts(name, owned_labels(labels)), &METADATA)
            .set(value);
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }
}

/// Records a duration in seconds.
pub fn observe(h: &Histogram, d: Duration) {
    h.record(d.as_secs_f64());
}

fn owned_labels(labels: &[(&'static str, &str)]) -> Vec<Label> {
    labels
        .iter()
        .map(|(k, v)| Label::new(*k, (*v).to_owned()))
        .collect()
}
