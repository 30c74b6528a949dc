//! Owns the gateway's HTTP server: authentication, ingress, the request
//! pipeline, responses and their error mapping, the decision record, metrics,
//! configuration reload, and the operational and admin endpoints.
//!
//! ```text
//! authenticate → ingress → signals → decide (policy) → dispatch (attempts, failover) → respond → record
//! ```
//! See `pipeline.rs` for the stage list.

mod admin;
mod anthropic;
mod breaker_events;
mod budget;
mod canary;
mod conn;
mod continuation;
mod ctx;
mod dashboard;
mod embeddings;
mod entry;
mod escalation;
mod failover;
mod finish;
mod idempotency;
mod ingress;
mod judge;
mod operator;
mod pin;
mod pipeline;
mod privacy;
mod probes;
mod prompt;
mod quality;
mod record;
mod reload;
pub mod respond;
mod responses;
mod round;
mod runtime;
mod server;
mod shadow;
pub mod telemetry;
mod trace;
mod warm;
mod workers;

pub use trace::enable_request_spans;
pub use trace::genai::{SEMCONV_SCHEMA_URL, scope as trace_scope};

pub use conn::{OpenFileLimit, raise_open_file_limit};
pub use workers::Layout;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use signalbox_config::{Config, VarSource};
use signalbox_decision_log::{DecisionLog, LogOptions, WriterPriority};
use tokio::net::TcpListener;

pub use reload::{ReloadError, ReloadOutcome, ReloadStatus, Reloaded};
pub use runtime::{BuildError, Runtime};
pub use server::GatewayHandle;
use telemetry::Telemetry;

/// Where the configuration came from, so it can be loaded again.
pub struct ReloadSource {
    /// The configuration file.
    pub path: PathBuf,
    /// Variables for `${VAR}` interpolation.
    pub vars: Arc<dyn VarSource + Send + Sync>,
    /// Whether to watch the file and reload when it changes.
    pub watch: bool,
}

impl std::fmt::Debug for ReloadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadSource")
            .field("path", &self.path)
            .field("watch", &self.watch)
            .finish()
    }
}

/// State shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The current runtime; requests load it once and keep it.
    pub runtime: ArcSwap<Runtime>,
    /// Metrics registry.
    pub telemetry: Arc<Telemetry>,
    /// The decision log, when enabled.
    pub decision_log: Option<DecisionLog>,
    /// Where reloads read the configuration from.
    pub reload_source: Option<ReloadSource>,
    /// The outcome of the last reload attempt.
    pub reload_status: ArcSwap<ReloadStatus>,
    reload_lock: tokio::sync::Mutex<()>,
    /// `Idempotency-Key` records (shared across replicas with a networked store).
    pub idempotency: Arc<dyn signalbox_state::IdempotencyStore>,
    /// Tenant limit accounting (shared across replicas with a networked store).
    pub limits: Arc<dyn signalbox_state::LimitStore>,
    /// Tenant spend per month against `monthly-budget-usd` (shared across
    /// replicas with a networked store; kept across reloads).
    pub spend: Arc<dyn signalbox_state::SpendStore>,
    /// Sessions that moved off their rendezvous route (per replica).
    pub affinity: signalbox_state::AffinityMemory,
    /// Client for escalation webhooks.
    pub webhook_client: reqwest::Client,
    /// Privacy tokens per tenant session.
    pub vault: privacy::Vault,
    /// Open circuits shared with other replicas (and the operator actions'
    /// view route health reads).
    pub breakers: SharedBreakers,
    /// Operator actions (shared across replicas with a networked store;
    /// kept across reloads: they live in the state, not the configuration).
    pub actions: Arc<dyn signalbox_state::ActionStore>,
    /// Canary rollouts and shadow budgets (shared across replicas with a
    /// networked store; quality marks are linked into route health).
    pub quality_state: QualityState,
    /// Open client connections and their cap (`server.max-connections`,
    /// read at startup), shared by every serving worker.
    pub(crate) connections: Arc<conn::ConnLimit>,
    /// Serving threads still warming up; `/readyz` waits for them.
    readiness: warm::Readiness,
    /// The quality loop's schedule, budgets, skips and scores (kept across reloads).
    pub(crate) quality: quality::QualityState,
    /// The breaker transitions route health reports, until the background
    /// task takes them (`breaker_events.rs`).
    breaker_events:
        parking_lot::Mutex<Option<tokio::sync::mpsc::Receiver<signalbox_dispatch::BreakerEvent>>>,
}

/// The breaker store and this gateway's replica id in it.
#[derive(Debug, Clone)]
pub struct SharedBreakers {
    /// The store.
    pub store: Arc<dyn signalbox_state::BreakerStore>,
    /// This replica.
    pub replica: u64,
    /// The operator actions' view (the action store's snapshot): route
    /// health reads drains and forced breakers from it.
    pub actions: Arc<signalbox_state::ActiveActions>,
    /// Where route quality gates publish and read their marks.
    pub quality: Arc<dyn signalbox_state::QualityStore>,
    /// Where route health reports its breaker transitions.
    pub events: signalbox_dispatch::BreakerEvents,
}

/// The quality loop's state shared across replicas: quality marks, canary
/// rollouts (and their steps' counts), shadow budgets and quality scores (the `state` backend's stores by default;
/// pass the same instance to gateways in one process to share them, as
/// replicas sharing one Redis do).
#[derive(Debug, Clone)]
pub struct QualityState {
    /// Quality gates' marks.
    pub marks: Arc<dyn signalbox_state::QualityStore>,
    /// Canary rollouts' steps.
    pub canaries: Arc<dyn signalbox_state::CanaryStore>,
    /// Shadow rules' hourly budgets.
    pub shadow: Arc<dyn signalbox_state::ShadowBudgetStore>,
    /// Scheduled quality runs' scores (one history for every replica).
    pub scores: Arc<dyn signalbox_state::ScoreStore>,
}

impl QualityState {
    /// In-process stores.
    pub fn in_memory() -> Self {
        Self {
            marks: Arc::new(signalbox_state::InMemoryQuality::default()),
            canaries: Arc::new(signalbox_state::InMemoryCanaries::default()),
            shadow: Arc::new(signalbox_state::InMemoryShadowBudgets::default()),
            scores: Arc::new(signalbox_state::InMemoryScores::default()),
        }
    }
}

/// Options beyond the configuration itself.
#[derive(Debug, Default)]
pub struct GatewayOptions {
    /// Enables `POST /admin/reload`, SIGHUP and (optionally) file watching.
    pub reload: Option<ReloadSource>,
    /// Overrides `decision-log.path` (tests and the demo use a temporary file).
    pub decision_log_path: Option<PathBuf>,
    /// Where open circuits are shared with other replicas (default: a store
    /// of this gateway's own; pass the same instance to share).
    pub breaker_store: Option<Arc<dyn signalbox_state::BreakerStore>>,
    /// Where operator actions are kept (default: the `state` backend's
    /// store; pass the same instance to share between in-process gateways).
    pub action_store: Option<Arc<dyn signalbox_state::ActionStore>>,
    /// Where quality marks, canary rollouts and shadow budgets are kept
    /// (default: the `state` backend's stores).
    pub quality_state: Option<QualityState>,
}

/// The shared-state stores for `config.state`.
struct StateStores {
    idempotency: Arc<dyn signalbox_state::IdempotencyStore>,
    limits: Arc<dyn signalbox_state::LimitStore>,
    spend: Arc<dyn signalbox_state::SpendStore>,
    breakers: Arc<dyn signalbox_state::BreakerStore>,
    actions: Arc<dyn signalbox_state::ActionStore>,
    quality: QualityState,
}

/// How long a Redis idempotency claim blocks its key when its replica dies
/// before answering.
const REDIS_IN_FLIGHT_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// How long a Redis concurrency counter outlives the tenant's last admission.
const REDIS_CONCURRENCY_TTL: std::time::Duration = std::time::Duration::from_secs(900);
/// How often the Redis breaker and operator-action views are refreshed
/// (their staleness bound).
const REDIS_BREAKER_REFRESH: std::time::Duration = std::time::Duration::from_millis(500);

/// Builds the in-process stores, or connects to Redis (bounded by
/// [`signalbox_state_redis::RedisTimeouts`]; must run inside a Tokio runtime).
fn state_stores(config: &Config) -> Result<StateStores, BuildError> {
    let idem = &config.resilience.idempotency;
    match &config.state.backend {
        signalbox_config::StateBackend::Memory => Ok(StateStores {
            idempotency: Arc::new(signalbox_state::InMemoryIdempotency::new(
                idem.ttl,
                idem.max_entries,
                idem.max_response_bytes,
            )),
            limits: Arc::new(signalbox_state::InMemoryLimits::default()),
            spend: Arc::new(signalbox_state::InMemorySpend::default()),
            breakers: Arc::new(signalbox_state::InMemoryBreakers::default()),
            actions: Arc::new(signalbox_state::InMemoryActions::default()),
            quality: QualityState::in_memory(),
        }),
        signalbox_config::StateBackend::Redis { url } => {
            use signalbox_state_redis as r;
            let conn = r::RedisConn::connect_blocking(
                url.expose(),
                &config.state.key_prefix,
                r::RedisTimeouts::default(),
            )
            .map_err(|e| BuildError::State(e.0))?;
            let breakers = r::RedisBreakers::new(conn.clone(), REDIS_BREAKER_REFRESH)
                .map_err(|e| BuildError::State(e.0))?;
            let actions = r::RedisActions::new(conn.clone(), REDIS_BREAKER_REFRESH)
                .map_err(|e| BuildError::State(e.0))?;
            let quality = QualityState {
                marks: Arc::new(
                    r::RedisQuality::new(conn.clone(), REDIS_BREAKER_REFRESH)
                        .map_err(|e| BuildError::State(e.0))?,
                ),
                canaries: Arc::new(r::RedisCanaries::new(conn.clone())),
                shadow: Arc::new(r::RedisShadowBudgets::new(conn.clone())),
                scores: Arc::new(
                    r::RedisScores::new(conn.clone()).map_err(|e| BuildError::State(e.0))?,
                ),
            };
            Ok(StateStores {
                idempotency: Arc::new(r::RedisIdempotency::new(
                    conn.clone(),
                    idem.ttl,
                    REDIS_IN_FLIGHT_TTL,
                    idem.max_response_bytes,
                )),
                limits: Arc::new(r::RedisLimits::new(conn.clone(), REDIS_CONCURRENCY_TTL)),
                spend: Arc::new(r::RedisSpend::new(conn)),
                breakers: Arc::new(breakers),
                actions: Arc::new(actions),
                quality,
            })
        }
    }
}

/// A configured gateway, ready to serve.
#[derive(Debug, Clone)]
pub struct Gateway {
    state: Arc<AppState>,
}

/// The decision log the configuration asks for (at the options' path when
/// given), or none when it is off.
fn open_decision_log(
    config: &Config,
    options: &GatewayOptions,
) -> Result<Option<DecisionLog>, BuildError> {
    let log_cfg = &config.decision_log;
    if !log_cfg.enabled {
        return Ok(None);
    }
    let path = options
        .decision_log_path
        .clone()
        .unwrap_or_else(|| log_cfg.path.clone());
    let opts = LogOptions {
        queue: log_cfg.queue,
        retention: log_cfg.retention,
        max_bytes: log_cfg.max_size_mb.saturating_mul(1 << 20),
        priority: match log_cfg.priority {
            signalbox_config::LogPriority::Idle => WriterPriority::Idle,
            signalbox_config::LogPriority::Low => WriterPriority::Low,
            signalbox_config::LogPriority::Normal => WriterPriority::Normal,
        },
    };
    DecisionLog::open(&path, opts)
        .map(Some)
        .map_err(|e| BuildError::DecisionLog(e.to_string()))
}

impl Gateway {
    /// Builds a gateway for `config` with default options.
    pub fn new(config: Config) -> Result<Self, BuildError> {
        Self::with_options(config, GatewayOptions::default())
    }

    /// Builds the runtime (upstream clients, tables, metrics) and opens the
    /// decision log.
    pub fn with_options(config: Config, options: GatewayOptions) -> Result<Self, BuildError> {
        let telemetry = Arc::new(Telemetry::new().map_err(BuildError::Telemetry)?);
        let decision_log = open_decision_log(&config, &options)?;
        let stores = state_stores(&config)?;
        let vault = Arc::new(signalbox_privacy::InMemoryVault::new(
            config.privacy.vault_ttl,
        ));
        let actions = options.action_store.clone().unwrap_or(stores.actions);
        let quality_state = options.quality_state.clone().unwrap_or(stores.quality);
        let (events, breaker_events) = breaker_events::channel();
        let shared = SharedBreakers {
            store: options.breaker_store.clone().unwrap_or(stores.breakers),
            replica: uuid::Uuid::new_v4().as_u64_pair().0,
            actions: actions.snapshot(),
            quality: Arc::clone(&quality_state.marks),
            events,
        };
        let connections = Arc::new(conn::ConnLimit::new(
            config.server.max_connections,
            telemetry.connections_refused(),
        ));
        let runtime = Runtime::build(config, &telemetry, None, &shared)?;
        let replica = shared.replica;
        if let Some(log) = &decision_log {
            reload::keep_version(log, &runtime.config);
        }
        let status = ReloadStatus::initial(&runtime.config.version);
        let gateway = Self {
            state: Arc::new(AppState {
                runtime: ArcSwap::from_pointee(runtime),
                telemetry,
                decision_log,
                reload_source: options.reload,
                reload_status: ArcSwap::from_pointee(status),
                reload_lock: tokio::sync::Mutex::new(()),
                idempotency: stores.idempotency,
                limits: stores.limits,
                spend: stores.spend,
                affinity: signalbox_state::AffinityMemory::new(
                    std::time::Duration::from_secs(3600),
                    100_000,
                ),
                webhook_client: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(5))
                    .build()
                    .map_err(|e| BuildError::Telemetry(format!("webhook client: {e}")))?,
                vault: privacy::Vault(vault),
                breakers: shared,
                actions,
                quality_state,
                connections,
                readiness: warm::Readiness::default(),
                quality: quality::QualityState::new(replica),
                breaker_events: parking_lot::Mutex::new(Some(breaker_events)),
            }),
        };
        // A restart keeps the quality scores this replica's log kept.
        quality::restore_scores(&gateway.state);
        Ok(gateway)
    }

    /// The listen address from the configuration.
    pub fn configured_listen(&self) -> SocketAddr {
        self.state.runtime.load().config.server.listen
    }

    /// The loaded configuration's version.
    pub fn policy_version(&self) -> String {
        self.state.runtime.load().config.version.clone()
    }

    /// The decision log, when enabled.
    pub fn decision_log(&self) -> Option<&DecisionLog> {
        self.state.decision_log.as_ref()
    }

    /// Reloads the configuration from its source now (as SIGHUP does);
    /// content identical to what is serving is skipped as unchanged.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        reload::reload(&self.state).await
    }

    /// The axum router (for in-process use).
    pub fn router(&self) -> axum::Router {
        server::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, on the runtime that
    /// polls it (work-stealing); watches for reloads when a reload source is
    /// configured. Flushes the decision log at the end. The lazily built
    /// tables (the token encoder) are built first, on the calling thread.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let warmed = warm::thread();
        self.state.telemetry.warm_up(server::SHARED_WORKER, warmed);
        let serving = conn::serve(
            self.state.clone(),
            listener,
            server::SHARED_WORKER,
            shutdown,
        );
        self.run(serving).await
    }

    /// Serves `layout` on threads of its own (`signalbox serve`) until
    /// `shutdown` resolves, while the calling runtime keeps the background
    /// work (reload, probes) as in [`Gateway::serve`].
    pub async fn serve_on_threads(
        self,
        layout: Layout,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let serving = workers::serve(self.state.clone(), layout, shutdown);
        self.run(serving).await
    }

    /// Runs the background work of a serving gateway around `serving`.
    async fn run(&self, serving: impl Future<Output = std::io::Result<()>>) -> std::io::Result<()> {
        let mut background = reload::spawn_watchers(&self.state);
        background.push(probes::spawn(&self.state));
        background.push(quality::spawn(&self.state));
        background.push(canary::spawn(&self.state));
        background.push(server::spawn_upkeep(&self.state));
        background.push(breaker_events::spawn(&self.state));
        let result = serving.await;
        for task in background {
            task.abort();
        }
        if let Some(log) = &self.state.decision_log {
            log.flush().await;
        }
        result
    }

    /// Binds `addr` (port 0 for any) and serves on a background task.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<GatewayHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let gateway = self.clone();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(GatewayHandle::new(addr, stop, task, gateway))
    }
}
