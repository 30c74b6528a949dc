//! `signalbox eval prompts NAME`: prompt portability. Every variant of a
//! registered prompt version (the default wording and each provider
//! family's) is sent the same suite cases, each to the alias serving its
//! family, and the answers are compared case by case: a different refusal
//! decision, a different tool, a scorer that passes with one wording and
//! fails with another (a fact missing in one), or no answer with one. Any
//! disagreement on a suite's (critical) intents is listed and exits 1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use signalbox_config::{EnvVars, PromptVersion, load_file};
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::{Answer, Case, score_case};

/// What `eval prompts` needs.
#[derive(Debug, clap::Args)]
pub struct PromptsArgs {
    /// The registered prompt, `id` or `id@version` (default: its default version).
    pub prompt: String,
    /// The gateway configuration that registers it.
    #[arg(long)]
    pub config: PathBuf,
    /// Suite files whose cases every variant is sent.
    #[arg(long = "suite", required = true)]
    pub suites: Vec<PathBuf>,
    /// Where each variant is sent: `ALIAS` (every variant), or
    /// `FAMILY=ALIAS` (`default=` for the default wording); repeatable.
    #[arg(long = "model", required = true)]
    pub models: Vec<String>,
    /// A template variable, `name=value` (repeatable).
    #[arg(long = "var")]
    pub vars: Vec<String>,
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:4000")]
    pub url: String,
    /// The environment variable holding the API key.
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Seconds allowed per case.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One variant: its family (`default` for the base wording), the system
/// prompt it renders to, and the alias it is sent to.
struct Variant {
    family: String,
    system: String,
    alias: String,
}

/// What one variant answered to one case, as far as portability goes.
#[derive(Debug, Clone, PartialEq)]
struct Facts {
    refused: bool,
    tool: Option<String>,
    failed: Vec<String>,
}

/// `signalbox eval prompts`.
pub async fn run(args: PromptsArgs) -> anyhow::Result<ExitCode> {
    let variants = variants(&args)?;
    let (client, key) = super::eval::client(args.timeout, args.api_key_env.as_deref())?;
    let mut rows = Vec::new();
    let mut disagreements = Vec::new();
    for path in &args.suites {
        let suite = super::eval::read(path)?;
        let detector = Detector::new(suite.refusal_patterns.as_deref());
        for case in &suite.cases {
            let mut seen: Vec<(&str, Option<Facts>)> = Vec::new();
            for v in &variants {
                let body = with_system(case, v);
                let facts = match super::eval::ask(&client, &args.url, key.as_deref(), &body).await
                {
                    Ok(answer) => Some(facts_of(case, &answer, &detector)),
                    Err(e) => {
                        rows.push(json!({"case": case.id, "variant": v.family, "error": format!("{e:#}")}));
                        None
                    }
                };
                if let Some(f) = &facts {
                    rows.push(json!({"case": case.id, "variant": v.family, "refused": f.refused, "tool": f.tool, "failed": f.failed}));
                }
                seen.push((&v.family, facts));
            }
            disagreements.extend(compare(&suite.suite, case, &seen));
        }
    }
    report(&rows, &disagreements, args.json);
    Ok(if disagreements.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every variant of the prompt's version, rendered, with its alias.
fn variants(args: &PromptsArgs) -> anyhow::Result<Vec<Variant>> {
    let config = load_file(&args.config, &EnvVars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (id, version) = match args.prompt.split_once('@') {
        Some((id, v)) => (id, Some(v)),
        None => (args.prompt.as_str(), None),
    };
    let Some(prompt) = config.prompts.iter().find(|p| p.id == id) else {
        bail!("{}: no prompt {id:?} is registered", args.config.display());
    };
    let Some(version) = prompt.version(version) else {
        bail!("prompt {id}: no version {:?}", version.unwrap_or_default());
    };
    let vars = pairs(&args.vars, "--var")?;
    let models = models(&args.models)?;
    let mut out = vec![variant(
        "default",
        &version.template,
        version,
        &vars,
        &models,
    )?];
    for (family, template) in &version.variants {
        out.push(variant(family, template, version, &vars, &models)?);
    }
    Ok(out)
}

fn variant(
    family: &str,
    template: &signalbox_config::Template,
    version: &PromptVersion,
    vars: &BTreeMap<String, String>,
    models: &BTreeMap<String, String>,
) -> anyhow::Result<Variant> {
    let Some(system) = template.render(|name| vars.get(name).map(String::as_str)) else {
        let missing: Vec<&str> = version
            .variables
            .iter()
            .filter(|v| !vars.contains_key(*v))
            .map(String::as_str)
            .collect();
        bail!("variant {family}: set --var for {}", missing.join(", "));
    };
    let Some(alias) = models.get(family).or_else(|| models.get("")) else {
        bail!("variant {family}: no --model {family}=ALIAS (nor a plain --model ALIAS)");
    };
    Ok(Variant {
        family: family.to_owned(),
        system,
        alias: alias.clone(),
    })
}

/// `--model` values: `FAMILY=ALIAS`, or a plain `ALIAS` (key "").
fn models(list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    list.iter()
        .map(|m| match m.split_once('=') {
            Some((family, alias)) if !alias.is_empty() => Ok((family.to_owned(), alias.to_owned())),
            Some(_) => bail!("--model {m}: expected FAMILY=ALIAS"),
            None => Ok((String::new(), m.clone())),
        })
        .collect()
}

pub(crate) fn pairs(list: &[String], flag: &str) -> anyhow::Result<BTreeMap<String, String>> {
    list.iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("{flag} {p}: expected name=value"))?;
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The case's body for `v`'s alias with `v`'s wording first, as the
/// gateway puts a registered prompt.
fn with_system(case: &Case, v: &Variant) -> Value {
    let mut body = case.chat_body(&v.alias);
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        messages.insert(0, json!({"role": "system", "content": v.system}));
    }
    body
}

fn facts_of(case: &Case, answer: &Answer, detector: &Detector) -> Facts {
    let failed = score_case(case, answer, detector)
        .into_iter()
        .filter(|v| !v.passed)
        .map(|v| v.scorer.label().to_owned())
        .collect();
    Facts {
        refused: detector.refuses(answer),
        tool: answer.tool_calls.first().map(|t| t.name.clone()),
        failed,
    }
}

/// Where the variants' answers to one case disagree.
fn compare(suite: &str, case: &Case, seen: &[(&str, Option<Facts>)]) -> Vec<String> {
    let mut out = Vec::new();
    let Some((first, first_facts)) = seen.first() else {
        return out;
    };
    let at = format!("{suite} {} ({})", case.id, case.intent);
    for (family, facts) in &seen[1..] {
        match (first_facts, facts) {
            (Some(a), Some(b)) => {
                if a.refused != b.refused {
                    out.push(format!(
                        "{at}: {first} refused={}, {family} refused={}",
                        a.refused, b.refused
                    ));
                }
                if a.tool != b.tool {
                    out.push(format!(
                        "{at}: {first} called {:?}, {family} called {:?}",
                        a.tool, b.tool
                    ));
                }
                for s in a.failed.iter().filter(|s| !b.failed.contains(s)) {
                    out.push(format!(
                        "{at}: {s} fails with {first}, passes with {family}"
                    ));
                }
                for s in b.failed.iter().filter(|s| !a.failed.contains(s)) {
                    out.push(format!(
                        "{at}: {s} fails with {family}, passes with {first}"
                    ));
                }
            }
            (None, None) => {}
            (None, Some(_)) => out.push(format!("{at}: no answer with {first}, one with {family}")),
            (Some(_), None) => out.push(format!("{at}: no answer with {family}, one with {first}")),
        }
    }
    out
}

fn report(rows: &[Value], disagreements: &[String], json: bool) {
    if json {
        println!(
            "{}",
            json!({"answers": rows, "disagreements": disagreements})
        );
        return;
    }
    println!(
        "{:<24} {:<12} {:<8} {:<20} failed",
        "case", "variant", "refused", "tool"
    );
    for r in rows {
        let tool = r["tool"].as_str().unwrap_or("-");
        let failed: Vec<&str> = r["failed"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match r["error"].as_str() {
            Some(e) => println!(
                "{:<24} {:<12} no answer: {e}",
                r["case"].as_str().unwrap_or(""),
                r["variant"].as_str().unwrap_or("")
            ),
            None => println!(
                "{:<24} {:<12} {:<8} {:<20} {}",
                r["case"].as_str().unwrap_or(""),
                r["variant"].as_str().unwrap_or(""),
                r["refused"],
                tool,
                if failed.is_empty() {
                    "-".to_owned()
                } else {
                    failed.join(",")
                }
            ),
        }
    }
    for d in disagreements {
        println!("DISAGREE {d}");
    }
    if disagreements.is_empty() {
        println!("every variant agrees on every case");
    }
}
