//! Owns the mock's counters (atomics on the hot path) and their JSON snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use axum::http::HeaderMap;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::calls::CallLog;

/// A snapshot of what the mock has seen and done since start (or the last reset).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The mock's name (`MockOptions::name`).
    pub name: String,
    /// Chat requests received, including faulted and invalid ones.
    pub requests: u64,
    /// Chat requests answered with 200 (streams and malformed bodies included).
    pub responses_ok: u64,
    /// Chat requests answered with an injected error (`error_rate` or rate limit).
    pub errors_injected: u64,
    /// Chat requests left hanging by the `hang` fault.
    pub hangs: u64,
    /// Streaming responses begun.
    pub streams_started: u64,
    /// Streams that sent `[DONE]`.
    pub streams_completed: u64,
    /// Streams whose body was dropped before completion (client or gateway went away).
    pub streams_cancelled: u64,
    /// Streams aborted by the `cut_stream_after` fault.
    pub streams_cut: u64,
    /// Chat requests currently being handled or streamed (not cleared by reset).
    pub in_flight: u64,
    /// Body of the last chat request, or null if it was not JSON (or none came yet).
    pub last_request: Option<serde_json::Value>,
    /// Headers of the last chat request, by lowercase name (repeated headers joined by ", ").
    pub last_headers: BTreeMap<String, String>,
}

/// Live counters shared by the handlers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) responses_ok: AtomicU64,
    pub(crate) errors_injected: AtomicU64,
    pub(crate) hangs: AtomicU64,
    pub(crate) streams_started: AtomicU64,
    pub(crate) streams_completed: AtomicU64,
    pub(crate) streams_cancelled: AtomicU64,
    pub(crate) streams_cut: AtomicU64,
    in_flight: AtomicU64,
    last: Mutex<Option<LastRequest>>,
    /// `requests` when the faults were last set (`Faults::fail_first` counts from there).
    faults_set_at: AtomicU64,
    /// Per-call log, when switched on.
    pub(crate) calls: CallLog,
}

/// The raw last request; parsed only when a snapshot is taken, to keep the hot path cheap.
#[derive(Debug)]
struct LastRequest {
    body: Bytes,
    headers: HeaderMap,
}

impl Counters {
    /// Counts a new chat request, remembers it and returns its 1-based sequence number.
    pub(crate) fn record_request(&self, headers: HeaderMap, body: Bytes) -> u64 {
        let n = self.requests.fetch_add(1, Relaxed) + 1;
        let previous = self.last.lock().replace(LastRequest { body, headers });
        // Dropped here, outside the lock.
        drop(previous);
        n
    }

    /// Notes that the faults were just replaced.
    pub(crate) fn faults_set(&self) {
        self.faults_set_at
            .store(self.requests.load(Relaxed), Relaxed);
    }

    /// Which request since the faults were last set the `n`-th one is (1-based).
    pub(crate) fn since_faults_set(&self, n: u64) -> u64 {
        n.saturating_sub(self.faults_set_at.load(Relaxed))
    }

    /// Clears every counter except the `in_flight` gauge, and forgets the last request
    /// and the call log.
    pub(crate) fn reset(&self) {
        for counter in [
            &self.requests,
            &self.responses_ok,
            &self.errors_injected,
            &self.hangs,
            &self.streams_started,
            &self.streams_completed,
            &self.streams_cancelled,
            &self.streams_cut,
            &self.faults_set_at,
        ] {
            counter.store(0, Relaxed);
        }
        let previous = self.last.lock().take();
        drop(previous);
        self.calls.clear();
    }

    /// Takes a JSON-ready snapshot.
    pub(crate) fn snapshot(&self, name: &str) -> Stats {
        let (body, headers) = match &*self.last.lock() {
            Some(last) => (Some(last.body.clone()), Some(last.headers.clone())),
            None => (None, None),
        };
        Stats {
            name: name.to_owned(),
            requests: self.requests.load(Relaxed),
            responses_ok: self.responses_ok.load(Relaxed),
            errors_injected: self.errors_injected.load(Relaxed),
            hangs: self.hangs.load(Relaxed),
            streams_started: self.streams_started.load(Relaxed),
            streams_completed: self.streams_completed.load(Relaxed),
            streams_cancelled: self.streams_cancelled.load(Relaxed),
            streams_cut: self.streams_cut.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            last_request: body.and_then(|body| serde_json::from_slice(&body).ok()),
            last_headers: headers.map(|h| header_map(&h)).unwrap_or_default(),
        }
    }
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

/// Counts one chat request as in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Counters>);

impl InFlight {
    pub(crate) fn new(counters: Arc<Counters>) -> Self {
        counters.in_flight.fetch_add(1, Relaxed);
        Self(counters)
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_parses_last_request_and_joins_headers() {
        let counters = Counters::default();
        let mut headers = HeaderMap::new();
        headers.append("x-extra", "a".parse().unwrap());
        headers.append("x-extra", "b".parse().unwrap());
        headers.insert("authorization", "Bearer k".parse().unwrap());
        assert_eq!(
            counters.record_request(headers, Bytes::from_static(br#"{"model":"m"}"#)),
            1
        );
        let stats = counters.snapshot("n");
        assert_eq!(stats.requests, 1);
        assert_eq!(stats.last_request, Some(serde_json::json!({"model": "m"})));
        assert_eq!(stats.last_headers["x-extra"], "a, b");
        assert_eq!(stats.last_headers["authorization"], "Bearer k");

        counters.record_request(HeaderMap::new(), Bytes::from_static(b"not json"));
        assert_eq!(counters.snapshot("n").last_request, None);
    }

    #[test]
    fn reset_keeps_in_flight() {
        let counters = Arc::new(Counters::default());
        let guard = InFlight::new(counters.clone());
        counters.record_request(HeaderMap::new(), Bytes::new());
        counters.reset();
        let stats = counters.snapshot("n");
        assert_eq!((stats.requests, stats.in_flight), (0, 1));
        assert!(stats.last_headers.is_empty());
        drop(guard);
        assert_eq!(counters.snapshot("n").in_flight, 0);
    }
}
