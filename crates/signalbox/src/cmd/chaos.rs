//! `signalbox chaos`: `run` drives the real gateway in-process through
//! scenario files (or shipped scenarios by name) and prints the table or
//! the JSON report; `list` names the shipped scenarios.
//!
//! Exit status: 0 every invariant held, 1 an invariant broke, 2 a scenario
//! could not be read or set up, 130 interrupted (Ctrl-C or SIGTERM). Each
//! scenario's decision log and policy file live in a temporary directory
//! (`$TMPDIR/signalbox-chaos-XXXXXX`) removed when it ends, however it ends.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use signalbox_chaos::{
    CancellationToken, RunError, RunOptions, SHIPPED, Scenario, ScenarioReport, Shipped,
};

/// Exit status when a scenario could not be read or set up.
const UNUSABLE: u8 = 2;

/// Exit status when Ctrl-C or SIGTERM cut the run short (as a shell
/// reports a process ended by SIGINT).
const INTERRUPTED: u8 = 130;

/// `signalbox chaos …`.
#[derive(Debug, clap::Subcommand)]
pub enum ChaosCommand {
    /// Run scenarios (files, or shipped scenarios by name) and print the table.
    Run {
        /// Scenario files (YAML), or names from `signalbox chaos list`.
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// Run this policy instead of the scenarios' own; its providers are
        /// remapped onto mocks (the scenario's upstream of the same name, or a
        /// healthy mock of the provider's kind).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The short form: each scenario's `short-scale` applied to its timeline.
        #[arg(long, conflicts_with = "scale")]
        short: bool,
        /// Multiply every timeline and load duration by this factor.
        #[arg(long)]
        scale: Option<f64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the shipped scenarios with one-line descriptions.
    List,
}

/// Runs one `signalbox chaos` subcommand.
pub async fn dispatch(command: ChaosCommand) -> anyhow::Result<ExitCode> {
    match command {
        ChaosCommand::List => list(),
        ChaosCommand::Run {
            scenarios,
            config,
            short,
            scale,
            json,
        } => {
            run(RunArgs {
                scenarios,
                config,
                short,
                scale,
                json,
            })
            .await
        }
    }
}

/// What `chaos run` was asked to do.
pub struct RunArgs {
    pub scenarios: Vec<String>,
    pub config: Option<PathBuf>,
    pub short: bool,
    pub scale: Option<f64>,
    pub json: bool,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(scale) = args.scale
        && !(scale.is_finite() && scale > 0.0)
    {
        eprintln!("--scale: must be a number above 0 (got {scale})");
        return Ok(ExitCode::from(UNUSABLE));
    }
    let mut scenarios = Vec::new();
    let mut unusable = false;
    for name in &args.scenarios {
        match load(name) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{e}");
                unusable = true;
            }
        }
    }
    if unusable {
        return Ok(ExitCode::from(UNUSABLE));
    }
    let options = RunOptions {
        scale: args.scale,
        short: args.short,
        config: args.config,
        progress: std::io::stdout().is_terminal() && !args.json,
        interrupt: CancellationToken::new(),
    };
    // Ctrl-C or SIGTERM stops the running scenario cleanly (its gateway
    // stopped, its temporary files removed) rather than killing the process.
    let interrupt = options.interrupt.clone();
    let on_signal = tokio::spawn(async move {
        super::serve::shutdown_signal().await;
        interrupt.cancel();
    });
    let outcome = run_all(&scenarios, &options).await;
    on_signal.abort();
    let Some((reports, unusable)) = outcome else {
        return Ok(ExitCode::from(INTERRUPTED));
    };
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&reports)?)
    } else {
        signalbox_chaos::table(&reports)
    };
    super::emit(&text)?;
    Ok(if unusable {
        ExitCode::from(UNUSABLE)
    } else if reports.iter().all(|r| r.held) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs each scenario in turn: the reports, and whether any could not be
/// run; `None` once interrupted.
async fn run_all(
    scenarios: &[Scenario],
    options: &RunOptions,
) -> Option<(Vec<ScenarioReport>, bool)> {
    let mut reports = Vec::new();
    let mut unusable = false;
    for s in scenarios {
        match signalbox_chaos::run(s, options).await {
            Ok(r) => reports.push(r),
            Err(RunError::Interrupted) => {
                eprintln!("{}: interrupted", s.name);
                return None;
            }
            Err(e) => {
                eprintln!("{}: {e}", s.name);
                unusable = true;
            }
        }
    }
    Some((reports, unusable))
}

/// The scenarios `signalbox demo --chaos` runs.
const DEMO: [&str; 2] = ["regional-outage", "flapping-primary"];

/// `demo --chaos`: two shipped scenarios in their short form, with the table.
pub async fn demo() -> anyhow::Result<ExitCode> {
    super::emit(&format!(
        "Signalbox chaos demo: {} against the real gateway and in-process mock providers \
         (short form; `signalbox chaos list` shows every scenario).\n\n",
        DEMO.join(" and ")
    ))?;
    run(RunArgs {
        scenarios: DEMO.iter().map(|s| (*s).to_owned()).collect(),
        config: None,
        short: true,
        scale: None,
        json: false,
    })
    .await
}

/// A scenario file, or a shipped scenario by name.
fn load(name: &str) -> Result<Scenario, String> {
    let path = Path::new(name);
    if !path.exists()
        && let Some(shipped) = Shipped::find(name)
    {
        return shipped.scenario().map_err(|e| e.to_string());
    }
    Scenario::from_file(path).map_err(|e| e.to_string())
}

/// `chaos list`: every shipped scenario with its one-line description.
pub fn list() -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    for s in SHIPPED {
        let line = match s.scenario() {
            Ok(sc) => sc.description,
            Err(e) => format!("(invalid: {e})"),
        };
        out.push_str(&format!("{:<28} {line}\n", s.name));
    }
    super::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
