//! Owns the runtime built from one loaded configuration: the policy
//! snapshot, the route table with its upstream clients and health, and the
//! pre-built header values and metric handles. A request loads the current
//! runtime once and keeps it to the end, so a reload never changes a request
//! midway. A reload carries the routes' health, gates and the retry budget
//! over (`carry.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderValue;
use bytes::Bytes;
use signalbox_config::{Config, RouteConfig};
use signalbox_core::RouteIdx;
use signalbox_dispatch::{RetryBudget, RouteTable};
use signalbox_policy::PolicySnapshot;
use signalbox_providers::{ContentFilter, HttpUpstream, Retention, RouteSettings};
use thiserror::Error;

mod carry;
#[cfg(test)]
mod tests;

use crate::respond::headers::RouteHeaders;
use crate::telemetry::{RouteMetrics, Telemetry};

/// Why a configuration could not be turned into a runtime.
#[derive(Debug, Error)]
pub enum BuildError {
    /// An upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] signalbox_providers::UpstreamBuildError),
    /// A route names a provider that does not exist (validation prevents it).
    #[error("route {route}: unknown provider {provider}")]
    UnknownProvider {
        /// The route id.
        route: String,
        /// The provider name.
        provider: String,
    },
    /// The metrics registry could not be created.
    #[error("metrics: {0}")]
    Telemetry(String),
    /// The decision log could not be opened.
    #[error("decision log: {0}")]
    DecisionLog(String),
    /// A privacy boundary does not compile (validation prevents it).
    #[error("privacy: {0}")]
    Privacy(String),
    /// A quality suite is not a valid suite.
    #[error("quality suite {path}: {error}")]
    Quality {
        /// The suite file.
        path: String,
        /// What is wrong with it, naming the field.
        error: String,
    },
    /// The shared-state backend (`state`) is unreachable or misconfigured.
    #[error("state backend: {0}")]
    State(String),
    /// A value cannot be used as an HTTP header.
    #[error("{what} {value:?} cannot be sent as an HTTP header value")]
    HeaderValue {
        /// Which value.
        what: &'static str,
        /// The value.
        value: String,
    },
}

/// One route of the runtime: dispatch's route with the gateway's own
/// per-route data.
pub type Route = signalbox_dispatch::Route<RouteExt>;

/// What the gateway keeps per route besides what dispatch needs: values
/// built once per configuration load so a request only clones them.
#[derive(Debug)]
pub struct RouteExt {
    /// `x-signalbox-route` / `-provider` / `-model` header values.
    pub headers: RouteHeaders,
    /// The route's metric handles.
    pub metrics: RouteMetrics,
}

impl RouteExt {
    fn build(r: &RouteConfig, telemetry: &Telemetry) -> Result<Self, BuildError> {
        Ok(Self {
            headers: RouteHeaders {
                route: header_value("route id", r.id.as_str())?,
                provider: header_value("provider name", r.provider.as_str())?,
                model: header_value("model version", &r.version)?,
            },
            metrics: telemetry.route(r.id.as_str(), r.provider.as_str()),
        })
    }
}

/// Everything a request needs from one configuration load.
#[derive(Debug)]
pub struct Runtime {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The policy's lookup tables.
    pub policy: PolicySnapshot,
    /// Routes in configuration order (policy candidates index it), each
    /// with its gates and the gateway's header values and metric handles.
    pub routes: RouteTable<RouteExt>,
    /// The retry budget shared by every request (kept across reloads that
    /// leave its settings alone).
    pub retry_budget: Arc<RetryBudget>,
    /// Compiled privacy boundaries.
    pub privacy: crate::privacy::PrivacyRuntime,
    /// Request-duration histograms per alias.
    pub alias_durations: HashMap<String, metrics::Histogram>,
    /// `x-signalbox-policy-version`.
    pub version_header: HeaderValue,
    /// The pre-rendered `GET /v1/models` body.
    pub models_body: Bytes,
    /// The quality suites, read (`quality.rs`).
    pub(crate) quality: Vec<crate::quality::LoadedSuite>,
    /// Shadow traffic (`shadow.rs`).
    pub(crate) shadow: crate::shadow::Shadow,
    /// Canary rollouts (`canary.rs`).
    pub(crate) canaries: crate::canary::Canaries,
}

impl Runtime {
    /// Builds clients, tables and metric handles for `config`. Route health,
    /// gates and the retry budget carry over from `previous` (see
    /// `carry.rs`), so a reload neither forgets what the gateway has seen
    /// nor resets its limits.
    pub fn build(
        config: Config,
        telemetry: &Telemetry,
        previous: Option<&Runtime>,
        shared: &crate::SharedBreakers,
    ) -> Result<Self, BuildError> {
        let config = Arc::new(config);
        let carried = carry::Carried::from(previous);
        let mut upstreams: HashMap<&str, Arc<dyn signalbox_dispatch::Upstream>> = HashMap::new();
        // One scrubber per configuration: it knows every configured secret.
        let scrubber = Arc::new(signalbox_providers::Scrubber::for_providers(
            &config.providers,
        ));
        for p in &config.providers {
            upstreams.insert(
                p.name.as_str(),
                Arc::new(HttpUpstream::new(p, Arc::clone(&scrubber))?),
            );
        }
        let routes = config
            .routes
            .iter()
            .map(|r| {
                let upstream = upstreams.get(r.provider.as_str()).cloned().ok_or_else(|| {
                    BuildError::UnknownProvider {
                        route: r.id.to_string(),
                        provider: r.provider.to_string(),
                    }
                })?;
                let health = carried.health(r);
                health.share(r.id.as_str(), shared.replica, Arc::clone(&shared.store));
                health.watch_actions(r.id.as_str(), Arc::clone(&shared.actions));
                let quality = &health.quality;
                quality.share_through(r.id.as_str(), shared.replica, Arc::clone(&shared.quality));
                quality.configure(config.quality.warn_weight, mark_ttl(&config.quality));
                health.report_transitions(r.id.as_str(), shared.events.clone());
                Ok(Route {
                    id: r.id.clone(),
                    provider: r.provider.clone(),
                    settings: route_settings(r),
                    version: r.version.clone(),
                    upstream,
                    health,
                    weight: r.weight,
                    gate: carried.gate(r),
                    rate: carried.rate(r),
                    ext: RouteExt::build(r, telemetry)?,
                })
            })
            .collect::<Result<Vec<_>, BuildError>>()?;
        let routes = RouteTable::new(routes);
        let alias_durations = config
            .aliases
            .iter()
            .map(|a| {
                (
                    a.name.to_string(),
                    telemetry.alias_duration(a.name.as_str()),
                )
            })
            .collect();
        let policy = PolicySnapshot::new(config.clone());
        let models: Vec<serde_json::Value> = policy
            .model_names()
            .map(|name| serde_json::json!({"id": name, "object": "model", "created": 0, "owned_by": "signalbox"}))
            .collect();
        let models_body =
            Bytes::from(serde_json::json!({"object": "list", "data": models}).to_string());
        let version_header = header_value("policy version", &config.version)?;
        let retry_budget = carried.budget(&config.resilience.retry);
        let privacy = crate::privacy::PrivacyRuntime::build(&config)?;
        let quality = crate::quality::load(&config)?;
        let shadow = crate::shadow::Shadow::build(&config, previous.map(|p| &p.shadow));
        let canaries = crate::canary::Canaries::build(&config, previous.map(|p| &p.canaries));
        Ok(Self {
            config,
            policy,
            routes,
            retry_budget,
            privacy,
            alias_durations,
            version_header,
            models_body,
            quality,
            shadow,
            canaries,
        })
    }

    /// The index of the route with id `id` (a map lookup).
    pub fn route_index(&self, id: &str) -> Option<RouteIdx> {
        self.routes.index(id)
    }

    /// The configuration of the route at `idx`.
    pub fn route_config(&self, idx: RouteIdx) -> Option<&RouteConfig> {
        self.config.routes.get(idx.get())
    }

    /// Routes that recent outcomes say can serve.
    pub fn usable_routes(&self) -> usize {
        self.routes.iter().filter(|r| r.health.usable()).count()
    }
}

/// How long a replica's quality verdict on a route holds for the other
/// replicas without a new run: three runs missed, and a minute more for
/// the run itself (a replica that stopped running suites, or died, no
/// longer holds a route).
fn mark_ttl(q: &signalbox_config::QualityConfig) -> std::time::Duration {
    q.every.saturating_mul(3) + std::time::Duration::from_secs(60)
}

/// What a route's adapter applies: the upstream model, the output limit
/// (required by Anthropic), and the declared posture as provider flags
/// (zero retention → OpenAI `store: false`; content filter → Gemini safety
/// settings; `standard` leaves the provider's default).
fn route_settings(r: &RouteConfig) -> RouteSettings {
    use signalbox_config::{ContentFilter as Filter, Retention as Kept};
    RouteSettings {
        upstream_model: r.model.clone(),
        max_output_tokens: Some(r.max_output_tokens),
        context_window: Some(r.context_window),
        retention: match r.retention {
            Kept::Zero => Retention::None,
            Kept::AbuseMonitoring | Kept::Standard | Kept::Training => Retention::ProviderDefault,
        },
        content_filter: match r.content_filter {
            Filter::None => Some(ContentFilter::Off),
            Filter::Standard => None,
            Filter::Strict => Some(ContentFilter::High),
        },
        embedding: r
            .embedding
            .as_ref()
            .map(|e| signalbox_adapters::EmbeddingRoute {
                max_batch: e.max_batch,
                dimensions: e.dimensions,
            }),
        responses: r.responses,
        reasoning: r.supports.reasoning,
    }
}

fn header_value(what: &'static str, value: &str) -> Result<HeaderValue, BuildError> {
    HeaderValue::from_str(value).map_err(|_| BuildError::HeaderValue {
        what,
        value: value.to_string(),
    })
}
