//! Owns configuration reload: from `POST /admin/reload`, SIGHUP, or a change
//! of the file. The new configuration is loaded and validated first; a bad
//! file is rejected (logged, reported by the endpoint and in
//! `reload_status`) and the old policy keeps serving. A good one is swapped
//! in atomically: requests in flight finish under the runtime they loaded.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use signalbox_config::load_file;
use thiserror::Error;
use tokio::task::JoinHandle;

use crate::AppState;
use crate::runtime::Runtime;

/// Why a reload did not happen.
#[derive(Debug, Error)]
pub enum ReloadError {
    /// The gateway was started without a configuration file.
    #[error("reload is not available: the gateway was not started from a configuration file")]
    NoSource,
    /// The new file is invalid; the old configuration keeps serving.
    #[error("the new configuration is invalid; still serving policy version {current}:\n{errors}")]
    Invalid {
        /// Every validation error, one per line.
        errors: String,
        /// The version still in force.
        current: String,
    },
    /// The runtime could not be built (e.g. a provider client).
    #[error("the new configuration could not be applied: {0}")]
    Build(String),
}

/// The outcome of the last reload attempt, for the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadStatus {
    /// The policy version in force.
    pub policy_version: String,
    /// When the last attempt finished (ms since the epoch).
    pub at_ms: u64,
    /// Whether it succeeded.
    pub ok: bool,
    /// Its error, if it failed.
    pub error: Option<String>,
}

impl ReloadStatus {
    pub(crate) fn initial(version: &str) -> Self {
        Self {
            policy_version: version.to_string(),
            at_ms: now_ms(),
            ok: true,
            error: None,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Loads, validates and swaps in the configuration from the reload source.
pub(crate) async fn reload(state: &Arc<AppState>) -> Result<String, ReloadError> {
    let Some(source) = &state.reload_source else {
        return Err(ReloadError::NoSource);
    };
    // One reload at a time; requests never wait on this lock.
    let _guard = state.reload_lock.lock().await;
    let path = source.path.clone();
    let vars = source.vars.clone();
    let loaded = tokio::task::spawn_blocking(move || load_file(&path, vars.as_ref()))
        .await
        .map_err(|e| ReloadError::Build(e.to_string()))?;
    let current = state.runtime.load_full();
    let result = match loaded {
        Err(errors) => Err(ReloadError::Invalid {
            errors: errors.to_string(),
            current: current.config.version.clone(),
        }),
        Ok(config) => Runtime::build(config, &state.telemetry, Some(&current), &state.breakers)
            .map_err(|e| ReloadError::Build(e.to_string())),
    };
    match result {
        Ok(runtime) => {
            let version = runtime.config.version.clone();
            state.runtime.store(Arc::new(runtime));
            state.telemetry.reload(true);
            tracing::info!(from = %current.config.version, to = %version, "Configuration reloaded.");
            state
                .reload_status
                .store(Arc::new(ReloadStatus::initial(&version)));
            Ok(version)
        }
        Err(e) => {
            state.telemetry.reload(false);
            tracing::error!(error = %e, "Configuration reload rejected; the previous policy keeps serving.");
            state.reload_status.store(Arc::new(ReloadStatus {
                policy_version: current.config.version.clone(),
                at_ms: now_ms(),
                ok: false,
                error: Some(e.to_string()),
            }));
            Err(e)
        }
    }
}

/// Starts the SIGHUP listener and, if asked, the file watcher.
pub(crate) fn spawn_watchers(state: &Arc<AppState>) -> Vec<JoinHandle<()>> {
    let Some(source) = &state.reload_source else {
        return Vec::new();
    };
    let mut tasks = Vec::new();
    #[cfg(unix)]
    {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading the configuration.");
                let _ = reload(&state).await;
            }
        }));
    }
    if source.watch {
        match watch_file(state.clone()) {
            Ok(task) => tasks.push(task),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot watch the configuration file; reload with SIGHUP or the admin API.")
            }
        }
    }
    tasks
}

/// Watches the directories of the file and of the files it includes
/// (editors and Kubernetes ConfigMaps replace files by rename or symlink
/// swap) and reloads 200 ms after the last change to any of them. Files
/// first included by a later reload are picked up on the next restart;
/// until then SIGHUP or `POST /admin/reload` reloads them.
fn watch_file(state: Arc<AppState>) -> Result<JoinHandle<()>, notify::Error> {
    use notify::{RecursiveMode, Watcher};
    let Some(source) = &state.reload_source else {
        return Err(notify::Error::generic("no reload source"));
    };
    // The main file and every file it includes (as of startup).
    let mut files = vec![source.path.clone()];
    files.extend(state.runtime.load().config.includes.iter().cloned());
    let dir_of = |p: &std::path::Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut dirs: Vec<std::path::PathBuf> = files.iter().map(|f| dir_of(f)).collect();
    dirs.sort();
    dirs.dedup();
    let watched: Vec<(std::path::PathBuf, std::ffi::OsString)> = files
        .iter()
        .filter_map(|f| Some((dir_of(f), f.file_name()?.to_os_string())))
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.paths.iter().any(|p| {
                p.file_name()
                    .is_some_and(|n| watched.iter().any(|(_, w)| w.as_os_str() == n))
            })
        {
            let _ = tx.try_send(());
        }
    })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(tokio::spawn(async move {
        let _watcher = watcher; // kept alive for the task's lifetime
        while rx.recv().await.is_some() {
            // Debounce: editors write in several steps.
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            tracing::info!("Configuration file changed; reloading.");
            let _ = reload(&state).await;
        }
    }))
}
