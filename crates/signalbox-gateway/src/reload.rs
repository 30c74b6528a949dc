//! Owns configuration reload: from `POST /admin/reload`, SIGHUP, or a change
//! of the file. The new configuration is loaded and validated first; a bad
//! file is rejected (logged, reported by the endpoint and in
//! `reload_status`) and the old policy keeps serving. A good one is swapped
//! in atomically: requests in flight finish under the runtime they loaded.
//!
//! A load whose content hash (`Config::content_hash`: the merged document
//! with its includes and every resolved credential) equals the serving one
//! is skipped and reported as unchanged: rebuilding would only cost work.
//! The watcher reacts to writes, creations, renames and removals, never to
//! reads, so reading the file (`cat`, `signalbox check`, a backup, the
//! reload itself) starts nothing.

use std::sync::Arc;
use std::time::Duration;

use notify::EventKind;
use serde::Serialize;
use signalbox_config::{Config, ConfigErrors, load_file};
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

impl ReloadError {
    /// The `result` label of `signalbox_config_reloads_total`.
    pub fn metric_label(&self) -> &'static str {
        "error"
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReloadOutcome {
    /// The new configuration is serving.
    Reloaded,
    /// The files hold what is already serving; nothing was rebuilt.
    Unchanged,
}

impl ReloadOutcome {
    /// `reloaded` or `unchanged`, as `POST /admin/reload` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reloaded => "reloaded",
            Self::Unchanged => "unchanged",
        }
    }

    /// The `result` label of `signalbox_config_reloads_total`.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::Reloaded => "ok",
            Self::Unchanged => "unchanged",
        }
    }
}

/// A successful reload: what it did, and the policy version now serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Whether a new runtime was swapped in.
    pub outcome: ReloadOutcome,
    /// The policy version in force.
    pub policy_version: String,
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
    /// Whether it found the configuration unchanged (and rebuilt nothing).
    pub unchanged: bool,
    /// Its error, if it failed.
    pub error: Option<String>,
}

impl ReloadStatus {
    pub(crate) fn initial(version: &str) -> Self {
        Self {
            policy_version: version.to_string(),
            at_ms: now_ms(),
            ok: true,
            unchanged: false,
            error: None,
        }
    }
}

fn now_ms() -> u64 {
    signalbox_core::clock::unix_ms()
}

/// Loads and validates the configuration from the reload source, and swaps
/// it in unless it is what is already serving.
pub(crate) async fn reload(state: &Arc<AppState>) -> Result<Reloaded, ReloadError> {
    let Some(source) = &state.reload_source else {
        return Err(ReloadError::NoSource);
    };
    // One reload at a time; requests never wait on this lock.
    let _guard = state.reload_lock.lock().await;
    let path = source.path.clone();
    let vars = source.vars.clone();
    let loaded = tokio::task::spawn_blocking(move || load_file(&path, vars.as_ref())).await;
    let current = state.runtime.load_full();
    let result = match loaded {
        Err(e) => Err(ReloadError::Build(e.to_string())),
        Ok(loaded) => apply(state, &current, loaded),
    };
    report(state, &current, &result);
    if let (Ok(done), Some(log)) = (&result, &state.decision_log)
        && done.outcome == ReloadOutcome::Reloaded
    {
        let config = Arc::clone(&state.runtime.load().config);
        let kept = match log.config_version(&config.version, &config.summary()).await {
            Ok(()) => log.config_text(&config.version, &config.source_text).await,
            Err(e) => Err(e),
        };
        if let Err(e) = kept {
            tracing::warn!(error = %e, version = %config.version, "Configuration version not kept in the decision log.");
        }
    }
    result
}

/// Keeps the configuration's summary and its text (as written: secrets
/// only as their references) under its policy version in the decision log
/// (what `signalbox what-changed` diffs), at start (two small inserts; a
/// reload does the same off its task); a failure is logged, never fatal.
pub(crate) fn keep_version(log: &signalbox_decision_log::DecisionLog, config: &Config) {
    let kept = log
        .config_version_now(&config.version, &config.summary())
        .and_then(|()| log.config_text_now(&config.version, &config.source_text));
    if let Err(e) = kept {
        tracing::warn!(error = %e, version = %config.version, "Configuration version not kept in the decision log.");
    }
}

/// Swaps in `loaded` unless it is invalid or identical to `current`.
fn apply(
    state: &AppState,
    current: &Runtime,
    loaded: Result<Config, ConfigErrors>,
) -> Result<Reloaded, ReloadError> {
    let config = loaded.map_err(|errors| ReloadError::Invalid {
        errors: errors.to_string(),
        current: current.config.version.clone(),
    })?;
    if config.content_hash() == current.config.content_hash() {
        return Ok(Reloaded {
            outcome: ReloadOutcome::Unchanged,
            policy_version: current.config.version.clone(),
        });
    }
    let runtime = Runtime::build(config, &state.telemetry, Some(current), &state.breakers)
        .map_err(|e| ReloadError::Build(e.to_string()))?;
    let policy_version = runtime.config.version.clone();
    state.runtime.store(Arc::new(runtime));
    Ok(Reloaded {
        outcome: ReloadOutcome::Reloaded,
        policy_version,
    })
}

/// Counts, logs and records the attempt for `GET /admin/reload`.
fn report(state: &AppState, current: &Runtime, result: &Result<Reloaded, ReloadError>) {
    let status = match result {
        Ok(done) => {
            state.telemetry.reload(done.outcome.metric_label());
            match done.outcome {
                ReloadOutcome::Reloaded => tracing::info!(
                    from = %current.config.version,
                    to = %done.policy_version,
                    "Configuration reloaded."
                ),
                ReloadOutcome::Unchanged => tracing::info!(
                    version = %done.policy_version,
                    "Configuration unchanged; nothing to reload."
                ),
            }
            ReloadStatus {
                unchanged: done.outcome == ReloadOutcome::Unchanged,
                ..ReloadStatus::initial(&done.policy_version)
            }
        }
        Err(e) => {
            state.telemetry.reload(e.metric_label());
            tracing::error!(error = %e, "Configuration reload rejected; the previous policy keeps serving.");
            ReloadStatus {
                ok: false,
                error: Some(e.to_string()),
                ..ReloadStatus::initial(&current.config.version)
            }
        }
    };
    state.reload_status.store(Arc::new(status));
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
    // A watched file reached through a symlink (a Kubernetes ConfigMap or
    // Secret volume: `policy.yaml -> ..data/policy.yaml`) changes when a
    // link in its directory is swapped (`..data`), an event that never
    // names the file itself.
    let through_links = files
        .iter()
        .any(|f| std::fs::symlink_metadata(f).is_ok_and(|m| m.file_type().is_symlink()));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(16);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Dropped events (a queue overflow) may have hidden a write: reload,
        // and let the content hash tell.
        let names_a_watched_file = || {
            event.paths.iter().any(|p| {
                p.file_name()
                    .is_some_and(|n| watched.iter().any(|(_, w)| w.as_os_str() == n))
            })
        };
        if event.need_rescan()
            || (changes_content(&event.kind)
                && (names_a_watched_file() || (through_links && swaps_an_entry(&event.kind))))
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

/// Whether a watcher event creates, renames or removes a directory entry:
/// how a symlinked file's target changes (the content hash then tells
/// whether anything the gateway reads did).
fn swaps_an_entry(kind: &EventKind) -> bool {
    use notify::event::ModifyKind;
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
    )
}

/// Whether a watcher event can mean new content. Reads (open, read, close
/// after reading) cannot, nor can metadata other than the modification
/// time; reacting to them made every reload, which reads the file, start
/// the next one.
fn changes_content(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{
        AccessKind, AccessMode, CreateKind, DataChange, MetadataKind, ModifyKind, RemoveKind,
        RenameMode,
    };

    use super::*;

    #[test]
    fn reads_and_attribute_changes_are_not_content_changes() {
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Any),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Permissions)),
            EventKind::Other,
        ] {
            assert!(!changes_content(&kind), "{kind:?}");
        }
    }

    #[test]
    fn writes_creations_renames_and_removals_are() {
        for kind in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Create(CreateKind::File),
            EventKind::Remove(RemoveKind::File),
            EventKind::Any,
        ] {
            assert!(changes_content(&kind), "{kind:?}");
        }
    }
}
