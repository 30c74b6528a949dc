//! `signalbox eval run`: every case of the suites sent through a gateway
//! to an alias, or (`--route`) to each named route of the alias in turn,
//! optionally under a registered prompt version (`--prompt-version`);
//! the answers scored; a table per target × intent × scorer (or JSON);
//! exit 1 when a target misses a `--min` rate, so CI can run it before a
//! configuration change ships.
//!
//! A route is reached through the gateway's policy, not around it: the
//! request carries `x-signalbox-pin-route`, which may only narrow the
//! decision (the route must be an eligible candidate of the alias for the
//! caller, under residency, posture and every other hard constraint) and
//! gets the route's privacy boundary like any request. A prompt version is
//! named with `x-signalbox-prompt` (and `x-signalbox-prompt-variables`), so
//! the gateway renders the variant of the serving route's provider family.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};
use signalbox_core::headers::{PIN_ROUTE, PROMPT, PROMPT_VARIABLES};
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::{Answer, Case, Verdict, score_case};
use tokio::time::Instant;

use super::eval::{ask, ask_recorded, read};

/// What `eval run` needs.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Suite files (YAML, or `.jsonl`).
    #[arg(required = true)]
    pub suites: Vec<PathBuf>,
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:4000")]
    pub url: String,
    /// The alias every case is sent to (`--model` is another name for it).
    #[arg(long, alias = "model")]
    pub alias: String,
    /// Evaluate this route of the alias on its own (repeatable: each
    /// route separately). The gateway pins the request to it only if the
    /// policy lets it serve the request; otherwise the case has no answer.
    #[arg(long = "route")]
    pub routes: Vec<String>,
    /// Put this registered prompt version (`id@version`) first in every
    /// case; the gateway renders the serving route's variant.
    #[arg(long)]
    pub prompt_version: Option<String>,
    /// A prompt variable, `name=value` (repeatable; with `--prompt-version`).
    #[arg(long = "var", requires = "prompt_version")]
    pub vars: Vec<String>,
    /// The environment variable holding the API key (sent as a bearer token).
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// A lowest pass rate, `scorer=rate` (repeatable), e.g. `tool-call=0.95`;
    /// each target must meet it.
    #[arg(long)]
    pub min: Vec<String>,
    /// Seconds allowed per case.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// The alias that grades cases with an `expect.judge` rubric (sent
    /// through the gateway, so the policy routes the judge's traffic).
    #[arg(long)]
    pub judge: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Take each answer's latency and cost from its decision record
    /// (`GET /admin/decisions/{id}`, with the admin token in
    /// `$SIGNALBOX_ADMIN_TOKEN`), so `max_cost_usd` is checked; without
    /// it, latency is timed here and cost is not checked.
    #[arg(long)]
    pub records: bool,
}

/// One case asked of one target.
#[derive(Debug)]
struct CaseResult {
    /// `alias NAME` or `route ID`.
    target: String,
    suite: String,
    case: String,
    intent: String,
    verdicts: Vec<Verdict>,
    latency_ms: f64,
    /// Why there is no answer, when there is none.
    error: Option<String>,
}

/// `signalbox eval run`: sends every case to every target, scores the
/// answers, prints the table (or JSON); exit 1 when a target misses a
/// `--min` rate.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let thresholds = thresholds(&args.min)?;
    // Every suite is read before anything is sent: a broken file costs no
    // traffic.
    let suites = args
        .suites
        .iter()
        .map(|p| read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (client, key) = super::eval::client(args.timeout, args.api_key_env.as_deref())?;
    let common = prompt_headers(&args)?;
    let targets: Vec<(String, Option<&str>)> = if args.routes.is_empty() {
        vec![(format!("alias {}", args.alias), None)]
    } else {
        args.routes
            .iter()
            .map(|r| (format!("route {r}"), Some(r.as_str())))
            .collect()
    };
    let total = targets.len() * suites.iter().map(|s| s.cases.len()).sum::<usize>();
    let mut results = Vec::with_capacity(total);
    for (target, route) in &targets {
        let mut headers = common.clone();
        if let Some(route) = route {
            headers.push((PIN_ROUTE, (*route).to_owned()));
        }
        for suite in &suites {
            let detector = Detector::new(suite.refusal_patterns.as_deref());
            for case in &suite.cases {
                progress(results.len() + 1, total, target, &suite.suite, &case.id);
                let asked = Asked {
                    client: &client,
                    args: &args,
                    key: key.as_deref(),
                    headers: &headers,
                };
                let mut result = asked.one(case, &detector).await;
                result.target.clone_from(target);
                result.suite.clone_from(&suite.suite);
                results.push(result);
            }
        }
    }
    report(&results, &thresholds, args.json)
}

/// A progress bar line per case on stderr (stdout keeps the report):
/// `[3/12] [#####---------------] route eu-large: support refund-window`.
fn progress(n: usize, total: usize, target: &str, suite: &str, case: &str) {
    eprintln!("{}", progress_line(n, total, target, suite, case));
}

fn progress_line(n: usize, total: usize, target: &str, suite: &str, case: &str) -> String {
    const WIDTH: usize = 20;
    let done = (n * WIDTH / total.max(1)).min(WIDTH);
    format!(
        "[{n}/{total}] [{}{}] {target}: {suite} {case}",
        "#".repeat(done),
        "-".repeat(WIDTH - done)
    )
}

/// The prompt headers every case carries, with `--prompt-version`.
fn prompt_headers(args: &RunArgs) -> anyhow::Result<Vec<(&'static str, String)>> {
    let Some(version) = &args.prompt_version else {
        return Ok(Vec::new());
    };
    if !version.contains('@') {
        anyhow::bail!("--prompt-version {version}: expected id@version");
    }
    let mut headers = vec![(PROMPT, version.clone())];
    if !args.vars.is_empty() {
        let vars = super::eval_prompts::pairs(&args.vars, "--var")?;
        headers.push((PROMPT_VARIABLES, serde_json::to_string(&vars)?));
    }
    Ok(headers)
}

/// What asking one case needs.
struct Asked<'a> {
    client: &'a reqwest::Client,
    args: &'a RunArgs,
    key: Option<&'a str>,
    headers: &'a [(&'static str, String)],
}

impl Asked<'_> {
    /// Sends `case`, scores its answer (and asks the judge, when there is one).
    async fn one(&self, case: &Case, detector: &Detector) -> CaseResult {
        let started = Instant::now();
        let body = case.chat_body(&self.args.alias);
        let answer = ask_recorded(self.client, &self.args.url, self.key, self.headers, &body).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let (verdicts, error) = match answer {
            Ok((mut answer, id)) => {
                // Without its record, what an answer cost is unknown: a
                // `max_cost_usd` is reported as not checked.
                answer.latency_ms = Some(latency_ms);
                if self.args.records {
                    self.read_record(&mut answer, id.as_deref()).await;
                }
                let mut verdicts = score_case(case, &answer, detector);
                verdicts.extend(self.judged(case, &answer).await);
                (verdicts, None)
            }
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        CaseResult {
            target: String::new(),
            suite: String::new(),
            case: case.id.clone(),
            intent: case.intent.clone(),
            verdicts,
            latency_ms,
            error,
        }
    }

    /// Takes the answer's latency and cost from its decision record, as the
    /// gateway measured and priced it; left as they are when the record
    /// cannot be read (a warning says why).
    async fn read_record(&self, answer: &mut Answer, id: Option<&str>) {
        let token = std::env::var("SIGNALBOX_ADMIN_TOKEN").unwrap_or_default();
        let url = format!("{}/admin/decisions/", self.args.url.trim_end_matches('/'));
        let read = async {
            let id = id.ok_or_else(|| anyhow::anyhow!("no x-signalbox-request-id"))?;
            let resp = self
                .client
                .get(format!("{url}{id}"))
                .bearer_auth(&token)
                .send()
                .await?;
            let status = resp.status();
            if !status.is_success() {
                anyhow::bail!("{status}");
            }
            Ok::<Value, anyhow::Error>(resp.json().await?)
        };
        match read.await {
            Ok(record) => {
                answer.latency_ms = record["latency_ms"].as_f64().or(answer.latency_ms);
                answer.cost_usd = record["cost_usd"].as_f64();
            }
            Err(e) => eprintln!("warning: the answer's decision record: {e:#}"),
        }
    }

    /// The judge's verdict on `answer`, when the case has a rubric and the
    /// run a judge alias (a judge that does not answer is a failed
    /// verdict). The judge's request is routed by the policy: it carries
    /// neither the pin nor the prompt.
    async fn judged(&self, case: &Case, answer: &Answer) -> Option<Verdict> {
        use signalbox_eval::score::judge;
        let rubric = case.expect.judge.as_ref()?;
        let alias = self.args.judge.as_deref()?;
        let body = judge::request(alias, case, rubric, answer);
        Some(
            match ask(self.client, &self.args.url, self.key, &body).await {
                Ok(reply) => judge::verdict(rubric, &reply.text),
                Err(e) => judge::unanswered(&format!("{e:#}")),
            },
        )
    }
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

/// (passed, scored).
type Tally = (u32, u32);

fn rate((passed, scored): Tally) -> f64 {
    f64::from(passed) / f64::from(scored.max(1))
}

/// Per target × intent × scorer, and per target × scorer.
#[derive(Debug, Default)]
struct Tables<'a> {
    rows: BTreeMap<(&'a str, &'a str, &'static str), Tally>,
    targets: BTreeMap<&'a str, BTreeMap<&'static str, Tally>>,
}

impl<'a> Tables<'a> {
    fn of(results: &'a [CaseResult]) -> Self {
        let mut t = Self::default();
        for r in results {
            let per_target = t.targets.entry(r.target.as_str()).or_default();
            for v in &r.verdicts {
                let label = v.scorer.label();
                for tally in [
                    t.rows
                        .entry((r.target.as_str(), r.intent.as_str(), label))
                        .or_default(),
                    per_target.entry(label).or_default(),
                ] {
                    tally.1 += 1;
                    tally.0 += u32::from(v.passed);
                }
            }
        }
        t
    }

    /// Each target's misses of the thresholds, in words.
    fn below(&self, thresholds: &[(String, f64)]) -> Vec<String> {
        let mut below = Vec::new();
        for (target, tally) in &self.targets {
            for (s, min) in thresholds {
                let r = rate(tally.get(s.as_str()).copied().unwrap_or_default());
                if r < *min {
                    below.push(format!("{s} {r:.2} < {min:.2} ({target})"));
                }
            }
        }
        below
    }
}

/// Prints the table (or JSON) and the failing cases; the exit code says
/// whether every target met every threshold.
fn report(
    results: &[CaseResult],
    thresholds: &[(String, f64)],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let tables = Tables::of(results);
    let below = tables.below(thresholds);
    if json {
        println!("{}", report_json(results, &tables, &below));
    } else {
        report_text(results, &tables, &below);
    }
    Ok(if below.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report_json(results: &[CaseResult], tables: &Tables<'_>, below: &[String]) -> Value {
    let cases: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({"target": r.target, "suite": r.suite, "case": r.case, "intent": r.intent,
            "latency_ms": r.latency_ms, "verdicts": r.verdicts, "error": r.error})
        })
        .collect();
    let table: Vec<Value> = tables
        .rows
        .iter()
        .map(|((target, intent, scorer), t)| {
            json!({"target": target, "intent": intent,
            "scorer": scorer, "passed": t.0, "scored": t.1, "pass_rate": rate(*t)})
        })
        .collect();
    let by_target: serde_json::Map<String, Value> = tables
        .targets
        .iter()
        .map(|(target, scorers)| {
            let rates: serde_json::Map<String, Value> = scorers
                .iter()
                .map(|(s, t)| ((*s).to_owned(), json!(rate(*t))))
                .collect();
            ((*target).to_owned(), Value::Object(rates))
        })
        .collect();
    // With one target, `pass_rate` is its rates (the shape before routes).
    let pass_rate = match by_target.values().next() {
        Some(only) if by_target.len() == 1 => only.clone(),
        _ => json!({}),
    };
    json!({"pass_rate": pass_rate, "by_target": by_target, "table": table, "below": below, "cases": cases})
}

fn report_text(results: &[CaseResult], tables: &Tables<'_>, below: &[String]) {
    println!(
        "{:<24} {:<14} {:<12} {:>7} {:>7} {:>9}",
        "target", "intent", "scorer", "passed", "scored", "pass rate"
    );
    for ((target, intent, scorer), t) in &tables.rows {
        println!(
            "{target:<24} {intent:<14} {scorer:<12} {:>7} {:>7} {:>9.2}",
            t.0,
            t.1,
            rate(*t)
        );
    }
    for r in results {
        if let Some(e) = &r.error {
            println!("{} {}: no answer ({}): {e}", r.suite, r.case, r.target);
        }
        for v in r.verdicts.iter().filter(|v| !v.passed) {
            println!(
                "FAIL {} {} {}: {} ({})",
                r.suite,
                r.case,
                v.scorer.label(),
                v.findings.join("; "),
                r.target
            );
        }
    }
    for b in below {
        println!("below threshold: {b}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_progress_bar_fills_as_cases_are_asked() {
        assert_eq!(
            super::progress_line(3, 12, "route eu-large", "support", "refund-window"),
            "[3/12] [#####---------------] route eu-large: support refund-window"
        );
        assert!(super::progress_line(12, 12, "a", "s", "c").contains(&"#".repeat(20)));
    }
}
