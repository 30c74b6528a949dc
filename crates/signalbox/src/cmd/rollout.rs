//! `signalbox shadow report` and `signalbox canary status`: shadow
//! traffic's agreement per shadow route and each canary's step, over the
//! gateway's admin API (`GET /admin/shadow`, `GET /admin/canary`, read
//! role), as a table or (`--json`) the gateway's JSON. The token is read
//! as `signalbox admin` reads it.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use super::admin::Conn;

/// `signalbox shadow …`
#[derive(Debug, Subcommand)]
pub enum ShadowCommand {
    /// Per shadow route: requests mirrored, skipped and failed, agreement
    /// with the served answers per scorer, mean latency and cost deltas.
    Report,
}

/// `signalbox canary …`
#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Each canary's phase, share, arms in the current window and steps.
    Status,
}

/// Runs `signalbox shadow report`.
pub async fn shadow(conn: &Conn, ShadowCommand::Report: ShadowCommand) -> anyhow::Result<ExitCode> {
    let body = conn.get("/admin/shadow").await?;
    print(conn, &body, shadow_table)
}

/// Runs `signalbox canary status`.
pub async fn canary(conn: &Conn, CanaryCommand::Status: CanaryCommand) -> anyhow::Result<ExitCode> {
    let body = conn.get("/admin/canary").await?;
    print(conn, &body, canary_table)
}

fn print(conn: &Conn, body: &Value, table: fn(&Value) -> String) -> anyhow::Result<ExitCode> {
    let text = if conn.json() {
        format!("{}\n", serde_json::to_string_pretty(body)?)
    } else {
        table(body)
    };
    super::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn rate(v: &Value) -> String {
    match (v["agreed"].as_u64(), v["judged"].as_u64()) {
        (Some(a), Some(j)) if j > 0 => format!("{:.0}% ({a}/{j})", a as f64 * 100.0 / j as f64),
        _ => "-".into(),
    }
}

fn number(v: &Value, unit: &str, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".into(), |n| format!("{n:+.digits$}{unit}"))
}

/// One line per shadow route.
pub(crate) fn shadow_table(body: &Value) -> String {
    let routes = body["routes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if routes.is_empty() {
        return "no shadow traffic yet\n".into();
    }
    let mut out = format!(
        "{:<20} {:>8} {:>8} {:>6} {:>14} {:>14} {:>14} {:>12} {:>12}  skipped\n",
        "ROUTE",
        "MIRRORED",
        "COMPARED",
        "ERRORS",
        "REFUSAL",
        "TOOL-CALL",
        "STRUCTURED",
        "Δ LATENCY",
        "Δ COST"
    );
    for r in routes {
        let a = &r["agreement"];
        let skipped: Vec<String> = r["skipped"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>8} {:>6} {:>14} {:>14} {:>14} {:>12} {:>12}  {}",
            r["route"].as_str().unwrap_or("-"),
            r["mirrored"],
            r["compared"],
            r["errors"],
            rate(&a["refusal"]),
            rate(&a["tool-call"]),
            rate(&a["structured"]),
            number(&r["mean_latency_delta_ms"], "ms", 0),
            number(&r["mean_cost_delta_usd"], "$", 6),
            if skipped.is_empty() {
                "-".into()
            } else {
                skipped.join(" ")
            },
        );
    }
    out
}

/// One block per canary: its line, its arms, its steps.
pub(crate) fn canary_table(body: &Value) -> String {
    let canaries = body["canaries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if canaries.is_empty() {
        return "no canaries configured\n".into();
    }
    let mut out = String::new();
    for c in canaries {
        let _ = writeln!(
            out,
            "{}: {} → {} on {}, {} at {}% (steps {})",
            c["name"].as_str().unwrap_or("-"),
            c["baseline"].as_str().unwrap_or("-"),
            c["canary"].as_str().unwrap_or("-"),
            c["alias"].as_str().unwrap_or("-"),
            c["phase"].as_str().unwrap_or("-"),
            c["share_percent"],
            c["steps_percent"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| format!("{s}%"))
                .collect::<Vec<_>>()
                .join(" → "),
        );
        for arm in ["baseline", "canary"] {
            let a = &c["arms"][arm];
            // The step is judged on every replica's traffic: say how much
            // of it came from the others.
            let elsewhere = match a["on_other_replicas"].as_u64() {
                Some(n) if n > 0 => format!(" ({n} on other replicas)"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {arm:<8} {:>6} req  errors {:>5.1}%  p95 {:>8}  valid {:>6}{elsewhere}",
                a["requests"],
                a["error_rate"].as_f64().unwrap_or(0.0) * 100.0,
                a["p95_ms"]
                    .as_f64()
                    .map_or_else(|| "-".into(), |v| format!("{v:.0}ms")),
                a["valid_rate"]
                    .as_f64()
                    .map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0)),
            );
        }
        if let Some(why) = c["held"].as_str() {
            let _ = writeln!(out, "  held: {why}");
        }
        for e in c["events"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  +{:>7.1}s {:<11} {}% → {}%: {}",
                e["after_ms"].as_f64().unwrap_or(0.0) / 1000.0,
                e["event"].as_str().unwrap_or("-"),
                e["from_percent"],
                e["to_percent"],
                e["evidence"].as_str().unwrap_or(""),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_shadow_table_shows_agreement_and_skips() {
        let body = json!({"routes": [{"route": "eu-new", "mirrored": 4, "compared": 3, "errors": 1,
            "skipped": {"stream": 2}, "agreement": {"refusal": {"agreed": 3, "judged": 3},
            "tool-call": {"agreed": 1, "judged": 2}}, "mean_latency_delta_ms": 120.4, "mean_cost_delta_usd": null}]});
        let t = shadow_table(&body);
        assert!(t.contains("eu-new"), "{t}");
        assert!(t.contains("100% (3/3)") && t.contains("50% (1/2)"), "{t}");
        assert!(t.contains("+120ms") && t.contains("stream=2"), "{t}");
        assert_eq!(
            shadow_table(&json!({"routes": []})),
            "no shadow traffic yet\n"
        );
    }

    #[test]
    fn the_canary_table_shows_the_step_arms_and_events() {
        let body = json!({"canaries": [{"name": "v2", "baseline": "a", "canary": "b", "alias": "chat",
            "phase": "rolled_back", "share_percent": 0.0, "steps_percent": [1.0, 5.0],
            "arms": {"baseline": {"requests": 0, "error_rate": 0.0}, "canary": {"requests": 6, "on_other_replicas": 4, "error_rate": 0.0}},
            "events": [{"event": "rolled_back", "after_ms": 2500, "from_percent": 1.0, "to_percent": 0.0, "evidence": "error rate 100.0% vs 0.0%"}]}]});
        let t = canary_table(&body);
        assert!(
            t.starts_with("v2: a → b on chat, rolled_back at 0.0%"),
            "{t}"
        );
        assert!(
            t.contains("rolled_back") && t.contains("error rate 100.0% vs 0.0%"),
            "{t}"
        );
        assert!(t.contains("valid      - (4 on other replicas)"), "{t}");
        assert!(!t.contains("0 on other replicas"), "{t}");
        assert!(!t.contains("held"), "{t}");
        let mut held = body.clone();
        held["canaries"][0]["held"] = json!("eval suite tools scorer tool-call: v2 below …");
        let t = canary_table(&held);
        assert!(
            t.contains("\n  held: eval suite tools scorer tool-call: v2 below …\n"),
            "{t}"
        );
    }
}
