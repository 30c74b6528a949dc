//! `signalbox eval`: run evaluation suites through a gateway (or any
//! OpenAI-compatible endpoint) and report each scorer's pass rate, or
//! check suite files. What `quality.suites` runs against routes, an
//! operator can run by hand against an alias before changing a policy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;

use anyhow::Context;
use serde_json::Value;
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::{Answer, Suite, Verdict, score_case};

/// `signalbox eval …`.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Send every case to `--model` at `--url`, score the answers, print
    /// each scorer's pass rate and the failures. Exit status: 1 when a
    /// `--min` rate is not met.
    Run {
        /// Suite files (YAML, or `.jsonl`).
        #[arg(required = true)]
        suites: Vec<PathBuf>,
        /// The gateway's base URL.
        #[arg(long, default_value = "http://127.0.0.1:4000")]
        url: String,
        /// The alias every case is sent to.
        #[arg(long)]
        model: String,
        /// The environment variable holding the API key (sent as a bearer token).
        #[arg(long)]
        api_key_env: Option<String>,
        /// A lowest pass rate, `scorer=rate` (repeatable), e.g. `tool-call=0.95`.
        #[arg(long)]
        min: Vec<String>,
        /// Seconds allowed per case.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// The alias that grades cases with an `expect.judge` rubric (sent
        /// through the gateway, so the policy routes the judge's traffic).
        #[arg(long)]
        judge: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prompt portability: send every variant of a registered prompt
    /// (the default wording and each provider family's) the same cases and
    /// list where their answers disagree (refusal, tool, a scorer passing
    /// with one wording only, no answer). Exit status: 1 on any disagreement.
    Prompts(crate::cmd::eval_prompts::PromptsArgs),
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
        EvalCommand::Run {
            suites,
            url,
            model,
            api_key_env,
            min,
            timeout,
            judge,
            json,
        } => {
            let args = RunArgs {
                suites,
                url,
                model,
                api_key_env,
                min,
                timeout: Duration::from_secs(timeout),
                judge,
                json,
            };
            run(args).await
        }
    }
}

/// What `eval run` needs.
#[derive(Debug)]
pub struct RunArgs {
    /// Suite files.
    pub suites: Vec<PathBuf>,
    /// The gateway's base URL (`/v1/chat/completions` is appended).
    pub url: String,
    /// The alias (or model) every case is sent to.
    pub model: String,
    /// The environment variable holding the API key, if any.
    pub api_key_env: Option<String>,
    /// Lowest pass rates, `scorer=rate`; below one, exit 1.
    pub min: Vec<String>,
    /// Per-case timeout.
    pub timeout: Duration,
    /// The judge alias, if any.
    pub judge: Option<String>,
    /// Print the report as JSON.
    pub json: bool,
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

/// `signalbox eval run`: sends every case, scores the answers, prints a
/// table (or JSON); exit 1 when a `--min` rate is not met.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let thresholds = thresholds(&args.min)?;
    let client = reqwest::Client::builder().timeout(args.timeout).build()?;
    let key = match &args.api_key_env {
        Some(var) => Some(std::env::var(var).with_context(|| format!("${var} is not set"))?),
        None => None,
    };
    let mut results: Vec<(String, String, Vec<Verdict>, f64)> = Vec::new();
    for path in &args.suites {
        let suite = read(path)?;
        let detector = Detector::new(suite.refusal_patterns.as_deref());
        for case in &suite.cases {
            let started = Instant::now();
            let answer = ask(
                &client,
                &args.url,
                key.as_deref(),
                &case.chat_body(&args.model),
            )
            .await;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            let verdicts = match answer {
                Ok(mut answer) => {
                    // The gateway does not say what an answer cost: a
                    // `max_cost_usd` is reported as not checked.
                    answer.latency_ms = Some(ms);
                    let mut verdicts = score_case(case, &answer, &detector);
                    verdicts.extend(judged(&client, &args, key.as_deref(), case, &answer).await);
                    verdicts
                }
                Err(e) => {
                    println!("{} {}: no answer: {e:#}", suite.suite, case.id);
                    Vec::new()
                }
            };
            results.push((suite.suite.clone(), case.id.clone(), verdicts, ms));
        }
    }
    report(&results, &thresholds, args.json)
}

/// The judge's verdict on `answer`, when the case has a rubric and the
/// run a judge alias (a judge that does not answer is a failed verdict).
async fn judged(
    client: &reqwest::Client,
    args: &RunArgs,
    key: Option<&str>,
    case: &signalbox_eval::Case,
    answer: &Answer,
) -> Option<Verdict> {
    use signalbox_eval::score::judge;
    let rubric = case.expect.judge.as_ref()?;
    let alias = args.judge.as_deref()?;
    let body = judge::request(alias, case, rubric, answer);
    Some(match ask(client, &args.url, key, &body).await {
        Ok(reply) => judge::verdict(rubric, &reply.text),
        Err(e) => judge::unanswered(&format!("{e:#}")),
    })
}

/// Sends one case's body to the chat completions of the gateway at `url`;
/// its answer, or the gateway's error.
pub(crate) async fn ask(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &Value,
) -> anyhow::Result<Answer> {
    let url = format!("{}/v1/chat/completions", url.trim_end_matches('/'));
    let mut req = client.post(url).json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        anyhow::bail!(
            "{status}: {}",
            v["error"]["message"].as_str().unwrap_or_default()
        );
    }
    Ok(Answer::from_completion(&v))
}

fn thresholds(min: &[String]) -> anyhow::Result<Vec<(String, f64)>> {
    min.iter()
        .map(|m| {
            let (scorer, rate) = m
                .split_once('=')
                .with_context(|| format!("--min {m}: expected scorer=rate"))?;
            let rate: f64 = rate
                .parse()
                .with_context(|| format!("--min {m}: the rate is not a number"))?;
            if !signalbox_config::SCORERS.contains(&scorer) || !(0.0..=1.0).contains(&rate) {
                anyhow::bail!(
                    "--min {m}: scorer one of {}, rate 0–1",
                    signalbox_config::SCORERS.join(", ")
                );
            }
            Ok((scorer.to_owned(), rate))
        })
        .collect()
}

/// Prints per-scorer pass rates and the failing cases; the exit code says
/// whether every threshold held.
fn report(
    results: &[(String, String, Vec<Verdict>, f64)],
    thresholds: &[(String, f64)],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut tally: std::collections::BTreeMap<&str, (u32, u32)> = Default::default();
    for (_, _, verdicts, _) in results {
        for v in verdicts {
            let t = tally.entry(v.scorer.label()).or_default();
            t.1 += 1;
            t.0 += u32::from(v.passed);
        }
    }
    let rate = |(passed, scored): (u32, u32)| f64::from(passed) / f64::from(scored.max(1));
    let below: Vec<String> = thresholds
        .iter()
        .filter_map(|(s, min)| {
            let r = rate(tally.get(s.as_str()).copied().unwrap_or_default());
            (r < *min).then(|| format!("{s} {r:.2} < {min:.2}"))
        })
        .collect();
    if json {
        let cases: Vec<Value> = results
            .iter()
            .map(|(suite, id, v, ms)| serde_json::json!({"suite": suite, "case": id, "latency_ms": ms, "verdicts": v}))
            .collect();
        let rates: serde_json::Map<String, Value> = tally
            .iter()
            .map(|(s, t)| ((*s).to_owned(), serde_json::json!(rate(*t))))
            .collect();
        println!(
            "{}",
            serde_json::json!({"pass_rate": rates, "below": below, "cases": cases})
        );
    } else {
        println!(
            "{:<12} {:>7} {:>7} {:>9}",
            "scorer", "passed", "scored", "pass rate"
        );
        for (scorer, t) in &tally {
            println!("{scorer:<12} {:>7} {:>7} {:>9.2}", t.0, t.1, rate(*t));
        }
        for (suite, id, verdicts, _) in results {
            for v in verdicts.iter().filter(|v| !v.passed) {
                println!(
                    "FAIL {suite} {id} {}: {}",
                    v.scorer.label(),
                    v.findings.join("; ")
                );
            }
        }
        for b in &below {
            println!("below threshold: {b}");
        }
    }
    Ok(if below.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
