//! Prometheus metric names. Code uses these constants, never string literals,
//! so the names in `docs/metrics.md` stay true.

/// Counter: requests finished, by `alias`, `status` and `route`.
pub const REQUESTS_TOTAL: &str = "signalbox_requests_total";
/// Histogram (seconds): end-to-end latency until the response head, by `alias`.
pub const REQUEST_DURATION: &str = "signalbox_request_duration_seconds";
/// Counter: upstream attempts, by `route`, `provider` and `outcome`.
pub const UPSTREAM_ATTEMPTS_TOTAL: &str = "signalbox_upstream_attempts_total";
/// Histogram (seconds): upstream latency until the response head, by `route`.
pub const UPSTREAM_DURATION: &str = "signalbox_upstream_duration_seconds";
/// Counter: errors returned to callers, by `class`.
pub const ERRORS_TOTAL: &str = "signalbox_errors_total";
/// Counter: streams ended by an error after the first byte, by `route`.
pub const STREAM_ERRORS_TOTAL: &str = "signalbox_stream_errors_total";
/// Gauge: requests in flight.
pub const IN_FLIGHT: &str = "signalbox_in_flight_requests";
/// Counter: configuration reload attempts, by `result` (`ok`, `error`).
pub const CONFIG_RELOADS_TOTAL: &str = "signalbox_config_reloads_total";
/// Counter: decision records written to the log.
pub const DECISION_LOG_WRITTEN_TOTAL: &str = "signalbox_decision_log_written_total";
/// Counter: decision records dropped because the log's queue was full.
pub const DECISION_LOG_DROPPED_TOTAL: &str = "signalbox_decision_log_dropped_total";
/// Counter: decision log write errors.
pub const DECISION_LOG_ERRORS_TOTAL: &str = "signalbox_decision_log_errors_total";
