//! Owns the stage a scenario runs on: its mock providers (each in its wire
//! format, on 127.0.0.1 port 0, call log on), the gateway's configuration
//! (inline, a file, or `--config` with every provider remapped onto a mock
//! of its kind) and the real gateway serving it in-process on port 0, with
//! a decision log of its own; and what the checks need from that
//! configuration (routes' placement, tenants' constraints, attempt budget).
//! The stage's files (the decision log, an inline policy's file) live in a
//! temporary directory of its own (`$TMPDIR/signalbox-chaos-XXXXXX`),
//! removed when the stage is dropped — after a run, a failed setup, or a
//! run cut short.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use signalbox_config::{Config, ConfigErrors, LogPriority, OverlayVars, load_file, load_str};
use signalbox_gateway::{Gateway, GatewayHandle, GatewayOptions, ReloadSource};
use signalbox_mock::{MockFormat, MockHandle, MockOptions, MockProvider};

use crate::facts::{RouteFact, TenantFact};
use crate::redis::RedisProcess;
use crate::scenario::{Policy, RedisStep, Scenario, Upstream};

/// How long the gateway has to become ready.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Records the writer may buffer: a run's every request must be kept.
const LOG_QUEUE: usize = 1 << 16;

/// Why a stage could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A mock or the gateway could not bind.
    #[error("binding {what}: {source}")]
    Bind {
        /// What was bound.
        what: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The stage's temporary directory or a file in it could not be made.
    #[error("{what}: {source}")]
    Files {
        /// What was being made.
        what: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The gateway's configuration is invalid.
    #[error("{origin}: invalid configuration:\n{errors}")]
    Config {
        /// Where it came from.
        origin: String,
        /// Every error.
        errors: ConfigErrors,
    },
    /// No configuration: the scenario has none and `--config` was not given.
    #[error("the scenario has no `policy` or `policy-file`; run it with --config POLICY.yaml")]
    NoPolicy,
    /// A provider of `--config` has no mock of its wire format.
    #[error("provider {provider}: kind {kind} has no mock to stand in for it")]
    NoMock {
        /// The provider.
        provider: String,
        /// Its kind.
        kind: String,
    },
    /// The gateway could not be built.
    #[error("building the gateway: {0}")]
    Gateway(String),
    /// A name in the scenario that the configuration lacks.
    #[error("{0}")]
    Mismatch(String),
    /// The scenario's `redis-server` could not be started.
    #[error("redis: {0}")]
    Redis(String),
}

/// A running stage.
#[derive(Debug)]
pub struct Stage {
    /// The gateway.
    pub gateway: GatewayHandle,
    /// The mocks by name.
    pub mocks: Vec<(String, MockHandle)>,
    /// The configuration it served first.
    pub config: Config,
    /// The file reload steps rewrite (inline policies only).
    policy_file: Option<PathBuf>,
    /// The scenario's `redis-server`, when it asked for one.
    redis: Option<RedisProcess>,
    /// The decision log and the policy file; removed on drop, so declared
    /// last: the gateway stops first.
    _scratch: tempfile::TempDir,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_mock(u: &Upstream) -> Result<MockHandle, SetupError> {
    let options = MockOptions {
        name: u.name.clone(),
        stream_chunks: u.stream_chunks,
        chunk_delay_ms: u.chunk_delay_ms,
    };
    let mock = MockProvider::start_as(loopback(), options, u.format)
        .await
        .map_err(|source| SetupError::Bind {
            what: format!("mock {}", u.name),
            source,
        })?;
    mock.log_calls(true);
    Ok(mock)
}

/// `${<NAME>_URL}` for a mock name.
fn url_var(name: &str) -> String {
    format!("{}_URL", name.to_uppercase().replace('-', "_"))
}

/// Starts the mocks, loads the configuration and starts the gateway.
pub async fn start(scenario: &Scenario, external: Option<&Path>) -> Result<Stage, SetupError> {
    let scratch = scratch_dir()?;
    let mut mocks = Vec::new();
    for u in &scenario.upstreams {
        mocks.push((u.name.clone(), start_mock(u).await?));
    }
    let redis = match scenario.redis {
        true => Some(RedisProcess::start().await.map_err(SetupError::Redis)?),
        false => None,
    };
    let urls = mocks.iter().map(|(n, m)| (url_var(n), m.base_url()));
    let redis_url = redis.iter().map(|r| ("REDIS_URL".to_owned(), r.url()));
    let given = scenario.vars.iter().map(|(k, v)| (k.clone(), v.clone()));
    let vars = Arc::new(OverlayVars::new(urls.chain(redis_url).chain(given)));
    let invalid = |origin: &str| {
        let origin = origin.to_owned();
        move |errors| SetupError::Config { origin, errors }
    };
    let mut config = match (external, &scenario.policy) {
        (Some(path), _) => {
            let mut config =
                load_file(path, &*vars).map_err(invalid(&path.display().to_string()))?;
            remap(&mut config, &mut mocks).await?;
            config
        }
        (None, Policy::Inline(text)) => {
            let origin = format!("{} (policy)", scenario.origin);
            load_str(text, &origin, &*vars).map_err(invalid(&origin))?
        }
        (None, Policy::File(path)) => {
            load_file(path, &*vars).map_err(invalid(&path.display().to_string()))?
        }
        (None, Policy::External) => return Err(SetupError::NoPolicy),
    };
    config.decision_log.enabled = true;
    config.decision_log.queue = config.decision_log.queue.max(LOG_QUEUE);
    config.decision_log.priority = LogPriority::Normal;
    // An inline policy is also written to a file, the source reload steps rewrite.
    let policy_file = match (external, &scenario.policy) {
        (None, Policy::Inline(text)) => Some(write_policy(&scratch, text)?),
        _ => None,
    };
    let options = GatewayOptions {
        decision_log_path: Some(scratch.path().join("decisions.db")),
        reload: policy_file.clone().map(|path| ReloadSource {
            path,
            vars: vars.clone(),
            watch: false,
        }),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::with_options(config.clone(), options)
        .map_err(|e| SetupError::Gateway(e.to_string()))?
        .spawn(loopback())
        .await
        .map_err(|source| SetupError::Bind {
            what: "the gateway".to_owned(),
            source,
        })?;
    ready(&gateway.base_url()).await?;
    Ok(Stage {
        gateway,
        mocks,
        config,
        policy_file,
        redis,
        _scratch: scratch,
    })
}

/// The stage's own temporary directory, `$TMPDIR/signalbox-chaos-XXXXXX`.
fn scratch_dir() -> Result<tempfile::TempDir, SetupError> {
    tempfile::Builder::new()
        .prefix("signalbox-chaos-")
        .tempdir()
        .map_err(|source| SetupError::Files {
            what: "creating a temporary directory".to_owned(),
            source,
        })
}

/// Writes an inline policy to `policy.yaml` in `scratch`; its path.
fn write_policy(scratch: &tempfile::TempDir, text: &str) -> Result<PathBuf, SetupError> {
    let path = scratch.path().join("policy.yaml");
    std::fs::write(&path, text).map_err(|source| SetupError::Files {
        what: format!("writing {}", path.display()),
        source,
    })?;
    Ok(path)
}

/// Waits for `/readyz`, then sends one request the load does not count:
/// the load must not start while the gateway still builds its lazy tables
/// (a debug build takes hundreds of ms), or its first requests would land
/// after the timeline's first faults.
async fn ready(base: &str) -> Result<(), SetupError> {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    loop {
        let answer = client.get(format!("{base}/readyz")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SetupError::Gateway(format!(
                "not ready within {} s",
                READY_WITHIN.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Any answer will do (the alias may not exist, a key may be needed): it
    // warms the request path, it is not checked.
    let body = serde_json::json!({"model": "chaos-warm-up", "messages": [{"role": "user", "content": "warm up"}]});
    let _ = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .timeout(READY_WITHIN)
        .send()
        .await;
    Ok(())
}

/// Points every provider of `config` at a mock: the scenario's upstream of
/// the provider's name, or a new healthy mock of its kind.
async fn remap(
    config: &mut Config,
    mocks: &mut Vec<(String, MockHandle)>,
) -> Result<(), SetupError> {
    for p in &mut config.providers {
        let name = p.name.as_str().to_owned();
        if let Some((_, m)) = mocks.iter().find(|(n, _)| *n == name) {
            p.base_url = m.base_url();
            continue;
        }
        let Some(format) = MockFormat::of(p.kind) else {
            return Err(SetupError::NoMock {
                provider: name,
                kind: p.kind.to_string(),
            });
        };
        let upstream = Upstream {
            name: name.clone(),
            format,
            stream_chunks: 5,
            chunk_delay_ms: 0,
        };
        let mock = start_mock(&upstream).await?;
        p.base_url = mock.base_url();
        mocks.push((name, mock));
    }
    Ok(())
}

impl Stage {
    /// Every route's placement, and the mock behind it (by base URL).
    pub fn routes(&self) -> Vec<RouteFact> {
        self.config
            .routes
            .iter()
            .map(|r| {
                let url = self
                    .config
                    .providers
                    .iter()
                    .find(|p| p.name == r.provider)
                    .map(|p| p.base_url.as_str());
                let upstream = self
                    .mocks
                    .iter()
                    .find(|(_, m)| Some(m.base_url().as_str()) == url)
                    .map(|(n, _)| n.clone());
                RouteFact {
                    id: r.id.as_str().to_owned(),
                    region: r.region.clone(),
                    retention: r.retention,
                    content_filter: r.content_filter,
                    upstream,
                    open_for: r.breaker.open_for,
                }
            })
            .collect()
    }

    /// Every tenant's placement constraints.
    pub fn tenants(&self) -> Vec<TenantFact> {
        self.config
            .tenants
            .iter()
            .map(|t| TenantFact {
                id: t.id.clone(),
                allowed_regions: t.allowed_regions.clone(),
                require_retention: t.require_retention,
                require_content_filter: t.require_content_filter,
            })
            .collect()
    }

    /// The largest number of attempts any request may make.
    pub fn attempt_budget(&self) -> u32 {
        let per_route = self.config.resilience.retry.attempts_per_route as usize;
        let most = self
            .config
            .aliases
            .iter()
            .map(|a| a.max_attempts)
            .chain(
                self.config
                    .policy_rules
                    .iter()
                    .filter_map(|r| r.max_attempts),
            )
            .max()
            .unwrap_or(1);
        u32::try_from(most.saturating_mul(per_route)).unwrap_or(u32::MAX)
    }

    /// The tenant anonymous requests are served as.
    pub fn anonymous_tenant(&self) -> String {
        self.config.anonymous_tenant.clone().unwrap_or_default()
    }

    /// Replaces the policy with `text` and reloads it, as SIGHUP does.
    pub async fn reload(&self, text: &str) -> Result<String, String> {
        let Some(path) = &self.policy_file else {
            return Err("no inline policy to reload".to_owned());
        };
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        match self.gateway.gateway().reload().await {
            Ok(r) => Ok(format!(
                "{} (policy version {})",
                r.outcome.as_str(),
                r.policy_version
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Kills or restarts the scenario's `redis-server`.
    pub async fn redis_step(&self, step: RedisStep) -> (&'static str, Result<String, String>) {
        let Some(redis) = &self.redis else {
            return ("redis", Err("the scenario starts no redis".to_owned()));
        };
        match step {
            RedisStep::Stop => ("redis stop", redis.kill()),
            RedisStep::Start => ("redis start", redis.resume().await),
        }
    }

    /// Stops the gateway (flushing its log) and the mocks.
    pub async fn stop(self) {
        self.gateway.shutdown().await;
        for (_, m) in self.mocks {
            m.shutdown();
        }
    }
}
