//! `signalbox explain`: reads one decision record back from the decision log
//! and prints why the request was routed as it was.
//!
//! The log is found from `--db`, or from a configuration file's
//! `decision-log.path`. Only that one value is read from the file (and
//! interpolated), so explaining never needs the file's secrets to resolve.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use signalbox_config::{EnvVars, interpolate_str};
use signalbox_decision_log::{LogReader, explain, one_line};

/// The decision log's path when the configuration does not set one.
const DEFAULT_DB: &str = "signalbox-decisions.db";

/// Where the decision log is, and the output format, as `decisions` and
/// `what-changed` take them.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// A configuration file; its `decision-log.path` is the log (default: $SIGNALBOX_CONFIG).
    #[arg(long, short, conflicts_with = "db")]
    config: Option<PathBuf>,
    /// The decision log database (default: signalbox-decisions.db).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl LogArgs {
    /// Where the log is.
    pub fn source(&self) -> Source {
        Source::pick(self.config.clone(), self.db.clone())
    }
}

/// Where to find the decision log.
#[derive(Debug)]
pub enum Source {
    /// A configuration file: use its `decision-log.path`.
    Config(PathBuf),
    /// The database file itself.
    Db(PathBuf),
}

impl Source {
    /// `--db`, else `--config`, else `SIGNALBOX_CONFIG`, else the default path.
    pub fn pick(config: Option<PathBuf>, db: Option<PathBuf>) -> Self {
        match (db, config) {
            (Some(db), _) => Self::Db(db),
            (None, Some(config)) => Self::Config(config),
            (None, None) => match std::env::var_os("SIGNALBOX_CONFIG") {
                Some(config) if !config.is_empty() => Self::Config(config.into()),
                _ => Self::Db(DEFAULT_DB.into()),
            },
        }
    }

    /// The database path (relative paths stay relative to the current
    /// directory, as `serve` uses them).
    pub(crate) fn db_path(&self) -> anyhow::Result<PathBuf> {
        match self {
            Self::Db(path) => Ok(path.clone()),
            Self::Config(config) => db_path_from_config(config),
        }
    }
}

/// Explains the record `id` names: the gateway's id, else the caller's
/// `x-request-id` (optionally only `tenant`'s). A caller's id that several
/// requests sent is an error listing them, never a guess.
pub fn run(
    source: &Source,
    json: bool,
    id: &str,
    tenant: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let path = source.db_path()?;
    let reader = LogReader::open(&path)?;
    let mut records = reader
        .find(id, tenant)
        .with_context(|| format!("reading {}", path.display()))?;
    let record = match records.len() {
        0 => bail!(
            "no decision record for request id {id:?}{} in {}",
            tenant.map_or_else(String::new, |t| format!(" (tenant {t})")),
            path.display()
        ),
        1 => records.swap_remove(0),
        n => bail!(
            "x-request-id {id:?} was sent by {n} requests; explain one by its gateway id \
             (x-signalbox-request-id){}:\n{}",
            if tenant.is_some() {
                ""
            } else {
                " or pass --tenant"
            },
            records
                .iter()
                .map(|r| format!("  {}", one_line(r)))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    if json {
        super::emit(&format!("{}\n", serde_json::to_string_pretty(&record)?))?;
    } else {
        super::emit(&explain(&record))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `decision-log.path` of a configuration file, interpolated; nothing else
/// in the file is resolved or validated.
fn db_path_from_config(config: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let doc: yaml_serde::Value = yaml_serde::from_str(&text)
        .with_context(|| format!("{}: YAML syntax error", config.display()))?;
    let value = match doc.get("decision-log").and_then(|d| d.get("path")) {
        None => return Ok(DEFAULT_DB.into()),
        Some(v) => v.as_str().with_context(|| {
            format!("{}: decision-log.path: expected a string", config.display())
        })?,
    };
    let path = interpolate_str(value, &EnvVars)
        .with_context(|| format!("{}: decision-log.path", config.display()))?;
    if path.is_empty() {
        bail!("{}: decision-log.path is empty", config.display());
    }
    Ok(path.into())
}
