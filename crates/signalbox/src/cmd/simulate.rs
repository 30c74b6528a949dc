//! `signalbox simulate`: evaluates one request against a policy without
//! calling any provider, and prints the decision record the gateway would
//! start with: signals, rules, per-route verdicts and ranking.
//!
//! Exit codes: 0 when the request would be routed, 2 when the policy refuses
//! it, 1 on usage or configuration errors.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use signalbox_config::{EnvVars, load_file};
use signalbox_core::{ChatRequest, DecisionRecord};
use signalbox_decision_log::explain;
use signalbox_policy::PolicySnapshot;

use super::evaluate::{self, evaluate, header_map, tenant_index};

/// Exit code when the policy refuses the request.
pub const REFUSED: u8 = 2;

/// What to simulate.
#[derive(Debug)]
pub struct Args {
    pub config: PathBuf,
    pub request: PathBuf,
    pub headers: Vec<String>,
    pub tenant: Option<String>,
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let snap = load_snapshot(&args.config)?;
    let body = read_request(&args.request)?;
    let req = ChatRequest::parse(&body)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.request.display()))?;
    let pairs = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .with_context(|| format!("--header {h:?}: expected NAME:VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let headers = header_map(pairs)?;
    let tenant = args
        .tenant
        .as_deref()
        .map(|id| tenant_index(&snap, id))
        .transpose()?;
    let eval = evaluate(&snap, tenant, &headers, &req);
    let record = evaluate::record(&snap, &eval, &req);
    if args.json {
        super::emit(&format!("{}\n", serde_json::to_string_pretty(&record)?))?;
    } else {
        super::emit(&render(&record))?;
    }
    Ok(if eval.refusal.is_some() {
        ExitCode::from(REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads and fully validates the configuration (secrets included, from the
/// environment), and prepares the policy.
pub fn load_snapshot(path: &Path) -> anyhow::Result<PolicySnapshot> {
    match load_file(path, &EnvVars) {
        Ok(config) => Ok(PolicySnapshot::new(Arc::new(config))),
        Err(errors) => {
            let mut msg = format!("{}: invalid configuration:", path.display());
            for e in &errors.0 {
                let _ = write!(msg, "\n  {e}");
            }
            bail!(msg)
        }
    }
}

/// The request body from a file, or stdin for `-`.
fn read_request(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("reading the request from stdin")?;
        return Ok(body);
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The explanation, with a "why" line that says where the request would go
/// (the decision log's explanation knows served requests, not simulated ones).
fn render(record: &DecisionRecord) -> String {
    let text = explain(record);
    if record.outcome != "simulated" {
        return text;
    }
    let rest = text.split_once('\n').map_or("", |(_, rest)| rest);
    format!("{}\n{rest}", why_routed(record))
}

/// `Why: tenant acme (allowed regions [eu]) asked for chat; …; eu would be
/// tried first (ranking: eu); simulated, no provider was called.`
fn why_routed(r: &DecisionRecord) -> String {
    let mut line = format!("Why: tenant {}", r.tenant);
    if let Some(region) = r.signals.iter().find(|s| s.name == "region") {
        match region
            .detail
            .as_deref()
            .and_then(|d| d.strip_prefix("allowed "))
        {
            Some(allowed) => {
                let _ = write!(
                    line,
                    " (region {} requested, allowed {allowed})",
                    region.value
                );
            }
            None => {
                let _ = write!(line, " (allowed regions {})", region.value);
            }
        }
    }
    let _ = write!(line, " asked for {}", r.alias.as_deref().unwrap_or("-"));
    match &r.rule {
        Some(rule) => {
            let _ = write!(line, "; rule \"{rule}\" matched");
        }
        None => line.push_str("; no rule matched, alias default used"),
    }
    if let Some(chosen) = &r.chosen {
        let _ = write!(
            line,
            "; {chosen} would be tried first (ranking: {})",
            r.ranking.join(", ")
        );
    }
    line.push_str("; simulated, no provider was called.");
    line
}
