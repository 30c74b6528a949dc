//! `signalbox eval scores`: the scheduled quality runs' scores, per route ×
//! model version × prompt version × suite × scorer × window, read from a
//! running gateway's admin API (`GET /admin/quality/scores`): every
//! replica's runs as the state backend keeps them, each row with its runs
//! and how many replicas ran them (a note says when the gateway could only
//! answer with its own).

use std::process::ExitCode;

use serde_json::Value;

use super::admin::Conn;

/// Which scores (each filter optional).
#[derive(Debug, clap::Args)]
pub struct ScoresArgs {
    #[command(flatten)]
    conn: Conn,
    /// Only this route.
    #[arg(long)]
    route: Option<String>,
    /// Only this model version (as the answers named it).
    #[arg(long)]
    model_version: Option<String>,
    /// Only this prompt version (`-`: the suites' cases as written).
    #[arg(long)]
    prompt_version: Option<String>,
    /// Only this suite.
    #[arg(long)]
    suite: Option<String>,
    /// Only this scorer.
    #[arg(long)]
    scorer: Option<String>,
    /// Only windows starting at or after this Unix second.
    #[arg(long)]
    since: Option<u64>,
}

/// Runs `signalbox eval scores`.
pub async fn run(args: ScoresArgs) -> anyhow::Result<ExitCode> {
    let since = args.since.map(|s| s.to_string());
    let filters = [
        ("route", args.route.as_deref()),
        ("model_version", args.model_version.as_deref()),
        ("prompt_version", args.prompt_version.as_deref()),
        ("suite", args.suite.as_deref()),
        ("scorer", args.scorer.as_deref()),
        ("since", since.as_deref()),
    ];
    let mut url = reqwest::Url::parse("http://gateway/admin/quality/scores")?;
    for (k, v) in filters {
        if let Some(v) = v {
            url.query_pairs_mut().append_pair(k, v);
        }
    }
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let body = args.conn.get(&path).await?;
    let text = if args.conn.json() {
        format!("{}\n", serde_json::to_string_pretty(&body)?)
    } else {
        table(&body)
    };
    super::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn table(body: &Value) -> String {
    let mut out = format!(
        "{:<20} {:<18} {:<20} {:<10} {:<16} {:<11} {:>6} {:>6} {:>9} {:>5} {:>8}\n",
        "window (unix)",
        "route",
        "model version",
        "prompt",
        "suite",
        "scorer",
        "passed",
        "scored",
        "pass rate",
        "runs",
        "replicas"
    );
    let rows = body["scores"].as_array().map_or(&[][..], Vec::as_slice);
    if rows.is_empty() {
        out.push_str("(no scores yet)\n");
    }
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
        out.push_str(&format!(
            "{:<20} {:<18} {:<20} {:<10} {:<16} {:<11} {:>6} {:>6} {:>9.2} {:>5} {:>8}\n",
            r["window_start"].as_u64().unwrap_or_default(),
            s("route"),
            s("model_version"),
            s("prompt_version"),
            s("suite"),
            s("scorer"),
            r["passed"].as_u64().unwrap_or_default(),
            r["scored"].as_u64().unwrap_or_default(),
            r["pass_rate"].as_f64().unwrap_or_default(),
            r["runs"].as_u64().unwrap_or_default(),
            r["replicas"].as_array().map_or(0, Vec::len),
        ));
    }
    if body["source"] == "local" {
        out.push_str("(this replica's own runs: the shared state store did not answer)\n");
    }
    out
}
