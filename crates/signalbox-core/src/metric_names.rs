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
/// Counter: configuration reload attempts, by `result` (`ok`, `unchanged`, `error`).
pub const CONFIG_RELOADS_TOTAL: &str = "signalbox_config_reloads_total";
/// Counter: decision records written to the log.
pub const DECISION_LOG_WRITTEN_TOTAL: &str = "signalbox_decision_log_written_total";
/// Counter: decision records dropped because the log's queue was full.
pub const DECISION_LOG_DROPPED_TOTAL: &str = "signalbox_decision_log_dropped_total";
/// Counter: decision log write errors.
pub const DECISION_LOG_ERRORS_TOTAL: &str = "signalbox_decision_log_errors_total";
/// Counter: responses served by a degraded path, by step.
pub const DEGRADED_TOTAL: &str = "signalbox_degraded_total";
/// Gauge: route circuit state (0 closed, 1 half-open, 2 open), by route.
pub const ROUTE_BREAKER_STATE: &str = "signalbox_route_breaker_state";
/// Gauge: 1 while a route is slow (p95 over its SLO) or cooling down, by route.
pub const ROUTE_DEGRADED: &str = "signalbox_route_degraded";
/// Counter: times a route's circuit opened, by route.
pub const ROUTE_BREAKER_OPENED_TOTAL: &str = "signalbox_route_breaker_opened_total";
/// Counter: breaker transitions, by `route` and `to` (`open`, `half-open`,
/// `closed`), each also kept as an event in the audit trail.
pub const BREAKER_TRANSITIONS_TOTAL: &str = "signalbox_breaker_transitions_total";
/// Counter: breaker transitions counted but not kept one by one (a route
/// flapping past its events per minute), by route.
pub const BREAKER_EVENTS_SUPPRESSED_TOTAL: &str = "signalbox_breaker_events_suppressed_total";
/// Counter: routes skipped for their health or capacity, by route.
pub const ROUTE_SKIPPED_TOTAL: &str = "signalbox_route_skipped_total";
/// Counter: operator actions created and reverted through this replica's
/// admin API, by `kind` and `event` (`created`, `reverted`).
pub const OPERATOR_ACTIONS_TOTAL: &str = "signalbox_operator_actions_total";
/// Counter: requests whose attempt loop stopped early, by reason.
pub const DISPATCH_STOPPED_TOTAL: &str = "signalbox_dispatch_stopped_total";
/// Counter: streams that broke after their first event under
/// `on-stream-break: continue`, by `outcome` (`continued`, `failed`: no
/// route continued it, `not_possible`: a tool call or no eligible route).
pub const STREAM_CONTINUATIONS_TOTAL: &str = "signalbox_stream_continuations_total";
/// Counter: requests refused by a tenant limit, by tenant and limit.
pub const TENANT_LIMITED_TOTAL: &str = "signalbox_tenant_limited_total";
/// Gauge: USD a tenant with a `monthly-budget-usd` has spent this month
/// (the shared total with a Redis state backend), by tenant.
pub const TENANT_SPEND_USD: &str = "signalbox_tenant_spend_usd";
/// Counter: requests refused because the tenant's monthly budget is spent,
/// by tenant.
pub const TENANT_BUDGET_EXCEEDED_TOTAL: &str = "signalbox_tenant_budget_exceeded_total";
/// Counter: idempotent requests, by result (`executed`, `replayed`).
pub const IDEMPOTENT_TOTAL: &str = "signalbox_idempotent_requests_total";
/// Counter: tokens met while restoring answers, by result (`restored`,
/// `unknown`: invented by the model, `malformed`: mangled or cut off).
pub const PRIVACY_TOKENS_TOTAL: &str = "signalbox_privacy_tokens_total";
/// Counter: active health probes, by route and result.
pub const PROBES_TOTAL: &str = "signalbox_probes_total";
/// Counter: runs of the quality suites, by route and result (`passed`,
/// `failed`, `errored`: no case answered).
pub const QUALITY_RUNS_TOTAL: &str = "signalbox_quality_runs_total";
/// Counter: scheduled quality runs (or suites in them) not run, by route and
/// reason (`budget`, `data_class`, `tenant`).
pub const QUALITY_SKIPPED_TOTAL: &str = "signalbox_quality_skipped_total";
/// Gauge: a route's latest pass rate, by route, suite and scorer.
pub const QUALITY_PASS_RATE: &str = "signalbox_quality_pass_rate";
/// Gauge: 1 while a route is kept from serving by a quality regression.
pub const QUALITY_DISABLED: &str = "signalbox_quality_disabled";
/// Gauge: 1 while a route's last quality run missed a warn bar (it is
/// ranked after the routes that pass), by route.
pub const QUALITY_WARNED: &str = "signalbox_quality_warned";
/// Counter: live requests mirrored to a shadow route, by `route` and
/// `result` (`compared`: its answer was scored against the served one;
/// `error`: it did not answer).
pub const SHADOW_REQUESTS_TOTAL: &str = "signalbox_shadow_requests_total";
/// Counter: requests a shadow rule matched but did not mirror, by `rule`
/// and `reason` (`idempotency_key`, `irreversible`, `stream`,
/// `constraints`, `privacy_blocked`, `budget`, `concurrency`, `not_json`).
pub const SHADOW_SKIPPED_TOTAL: &str = "signalbox_shadow_skipped_total";
/// Counter: shadow answers compared with the served one, by `route`,
/// `scorer` (`refusal`, `tool-call`, `structured`) and `agreed` (`true`,
/// `false`).
pub const SHADOW_AGREEMENT_TOTAL: &str = "signalbox_shadow_agreement_total";
/// Gauge: the mean latency of shadow answers minus the served ones', in
/// milliseconds, by `route`.
pub const SHADOW_LATENCY_DELTA_MS: &str = "signalbox_shadow_latency_delta_ms";
/// Gauge: the mean cost of shadow answers minus the served ones', in USD,
/// by `route`.
pub const SHADOW_COST_DELTA_USD: &str = "signalbox_shadow_cost_delta_usd";
/// Gauge: a canary's share of its alias's requests, in percent (0 once
/// rolled back), by `canary`.
pub const CANARY_SHARE_PERCENT: &str = "signalbox_canary_share_percent";
/// Counter: canary steps, by `canary` and `event` (`promoted`,
/// `completed`, `rolled_back`).
pub const CANARY_EVENTS_TOTAL: &str = "signalbox_canary_events_total";
/// Counter: requests a canary assigned, by `canary` and `arm` (`baseline`,
/// `canary`).
pub const CANARY_REQUESTS_TOTAL: &str = "signalbox_canary_requests_total";
/// Counter: calls to a shared-state store that could not be reached, so
/// this replica went on with its own state, by `store` (`canary`,
/// `shadow`, `scores`).
pub const STATE_FALLBACKS_TOTAL: &str = "signalbox_state_fallbacks_total";
/// Counter: shadow comparisons kept as events in the audit trail, by
/// `route` and `kind` (`disagreement`, `agreement_low`,
/// `agreement_restored`); events over the rate limit are counted with
/// `suppressed="true"`.
pub const SHADOW_EVENTS_TOTAL: &str = "signalbox_shadow_events_total";
/// Counter: connections accepted, by serving worker (`worker`: its index
/// under `server.scheduler: per-core`, else `shared`).
pub const CONNECTIONS_TOTAL: &str = "signalbox_connections_total";
/// Counter: connections closed at once because `server.max-connections`
/// were open.
pub const CONNECTIONS_REFUSED_TOTAL: &str = "signalbox_connections_refused_total";
/// Counter: client deadlines that passed, by `phase` (`header`: the request
/// head; `idle`: keep-alive with no request; `body`: the request body).
pub const CLIENT_TIMEOUTS_TOTAL: &str = "signalbox_client_timeouts_total";
/// Counter: `accept` failures other than a client giving up (e.g. out of
/// file descriptors).
pub const ACCEPT_ERRORS_TOTAL: &str = "signalbox_accept_errors_total";
/// Gauge: client connections open now (read at scrape time).
pub const OPEN_CONNECTIONS: &str = "signalbox_open_connections";
/// Gauge: the cap on open client connections (`server.max-connections`).
pub const CONNECTION_LIMIT: &str = "signalbox_connection_limit";
/// Gauge (seconds): how long a serving worker took to warm up before it
/// served (`worker`, as for [`CONNECTIONS_TOTAL`]); set once per start.
pub const WARM_UP_SECONDS: &str = "signalbox_warm_up_seconds";
