//! `signalbox eval`: run evaluation suites through a gateway (or any
//! OpenAI-compatible endpoint) and report each scorer's pass rate
//! (`eval_run.rs`), compare a prompt's variants (`eval_prompts.rs`), or
//! check suite files. What `quality.suites` runs against routes, an
//! operator can run by hand against an alias or its routes before
//! changing a policy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;
use signalbox_eval::{Answer, Suite};

/// `signalbox eval …`.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Send every case to `--alias` at `--url` (or, with `--route`, to
    /// each named route of that alias in turn), score the answers, print
    /// a table per target × intent × scorer and the failures. Exit status:
    /// 1 when a `--min` rate is not met by any target.
    Run(crate::cmd::eval_run::RunArgs),
    /// Prompt portability: send every variant of a registered prompt
    /// (the default wording and each provider family's) the same cases and
    /// list where their answers disagree (refusal, tool, a scorer passing
    /// with one wording only, no answer). Exit status: 1 on any disagreement.
    Prompts(crate::cmd::eval_prompts::PromptsArgs),
    /// The scheduled quality runs' scores of a running gateway, per route
    /// × model version × prompt version × suite × scorer × window (admin
    /// API; the token comes from $SIGNALBOX_ADMIN_TOKEN or --token-file).
    Scores(crate::cmd::eval_scores::ScoresArgs),
    /// Validate suite files; print every error with its path.
    Check {
        /// Suite files (YAML, or `.jsonl`).
        #[arg(required = true)]
        suites: Vec<PathBuf>,
    },
}

/// Runs one `signalbox eval` subcommand.
pub async fn dispatch(command: EvalCommand) -> anyhow::Result<ExitCode> {
    match command {
        EvalCommand::Check { suites } => check(&suites),
        EvalCommand::Prompts(args) => crate::cmd::eval_prompts::run(args).await,
        EvalCommand::Run(args) => crate::cmd::eval_run::run(args).await,
        EvalCommand::Scores(args) => crate::cmd::eval_scores::run(args).await,
    }
}

/// Reads and validates suite files (YAML, or `.jsonl`).
pub fn read(path: &Path) -> anyhow::Result<Suite> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Suite::from_file_text(path, &text).with_context(|| path.display().to_string())
}

/// `signalbox eval check FILE...`: every error with its path.
pub fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in files {
        match read(file) {
            Ok(s) => println!(
                "{}: suite {} with {} case(s)",
                file.display(),
                s.suite,
                s.cases.len()
            ),
            Err(e) => {
                failed = true;
                println!("{e:#}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The HTTP client (`timeout_secs` per call) and the API key read from
/// the environment variable `key_env`, if one is named.
pub(crate) fn client(
    timeout_secs: u64,
    key_env: Option<&str>,
) -> anyhow::Result<(reqwest::Client, Option<String>)> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout_secs))
        .build()?;
    let key = match key_env {
        Some(var) => Some(std::env::var(var).with_context(|| format!("${var} is not set"))?),
        None => None,
    };
    Ok((client, key))
}

/// Sends one case's body to the chat completions of the gateway at `url`;
/// its answer, or the gateway's error.
pub(crate) async fn ask(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &Value,
) -> anyhow::Result<Answer> {
    ask_with(client, url, key, &[], body).await
}

/// [`ask`] with extra request headers (a pinned route, a prompt version).
pub(crate) async fn ask_with(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    headers: &[(&'static str, String)],
    body: &Value,
) -> anyhow::Result<Answer> {
    Ok(ask_recorded(client, url, key, headers, body).await?.0)
}

/// As [`ask_with`], with the gateway's id for the request
/// (`x-signalbox-request-id`, the key of its decision record), when it
/// gave one.
pub(crate) async fn ask_recorded(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    headers: &[(&'static str, String)],
    body: &Value,
) -> anyhow::Result<(Answer, Option<String>)> {
    let url = format!("{}/v1/chat/completions", url.trim_end_matches('/'));
    let mut req = client.post(url).json(body);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let id = resp
        .headers()
        .get(signalbox_core::headers::GATEWAY_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let v: Value = resp.json().await?;
    if !status.is_success() {
        anyhow::bail!(
            "{status}: {}",
            v["error"]["message"].as_str().unwrap_or_default()
        );
    }
    Ok((Answer::from_completion(&v), id))
}
