//! The runbooks and deploy files reference only what exists: every
//! `signalbox …` command in `docs/runbooks/` parses with the real binary
//! (run with `--help` last, so nothing is executed but every flag is
//! checked), every alert they name is in `deploy/prometheus/alerts.yaml`,
//! every alert's runbook exists, and every metric the alerts and the Grafana
//! dashboard (`deploy/grafana/signalbox.json`) query is one the gateway
//! exports.

use crate::common::{bin, repo_root};

/// `signalbox …` commands in the runbooks: lines of code blocks, and code
/// spans in the prose.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block && line.starts_with("signalbox ") {
            out.push(line.to_string());
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("signalbox ") && span.len() > "signalbox ".len() {
                out.push(span.to_string());
            }
        }
    }
    out
}

/// Splits a command line into words, honouring double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn every_runbook_command_parses_and_every_alert_exists() {
    let root = repo_root();
    let alerts = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yaml")).unwrap();
    let mut checked = 0;
    let dir = root.join("docs/runbooks");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in commands(&text) {
            let args = words(&line);
            let out = bin().args(&args[1..]).arg("--help").output().unwrap();
            assert!(
                out.status.success(),
                "{}: `{line}` does not parse:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
        for alert in text.split('`').filter(|w| w.starts_with("Signalbox")) {
            assert!(
                alerts.contains(&format!("alert: {alert}\n")),
                "{}: no alert {alert}",
                path.display()
            );
        }
    }
    assert!(checked >= 30, "only {checked} commands found");
    for line in alerts
        .lines()
        .filter(|l| l.trim_start().starts_with("runbook: "))
    {
        let file = line.trim_start().trim_start_matches("runbook: ");
        assert!(
            root.join(file).exists(),
            "alerts.yaml names a missing runbook {file}"
        );
    }
}

/// Every `signalbox_*` name in a text (histogram series' suffixes dropped).
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("signalbox_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        out.push(base.to_string());
    }
    out
}

#[test]
fn alerts_and_the_dashboard_name_only_metrics_the_gateway_exports() {
    let root = repo_root();
    let defined =
        std::fs::read_to_string(root.join("crates/signalbox-core/src/metric_names.rs")).unwrap();
    let dashboard = std::fs::read_to_string(root.join("deploy/grafana/signalbox.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 10));
    let alerts = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yaml")).unwrap();
    for (file, text) in [("grafana", &dashboard), ("alerts", &alerts)] {
        let names = metric_names(text);
        assert!(names.len() >= 10, "{file}: {names:?}");
        for name in names {
            assert!(
                defined.contains(&format!("\"{name}\"")),
                "{file} names {name}, which metric_names.rs does not define"
            );
        }
    }
}

/// Issue 16's list: one runbook per incident, each naming the alert that
/// fires, the dashboard view and a `what-changed` query to confirm, the
/// action, how to verify and how to undo.
#[test]
fn every_incident_has_a_complete_runbook() {
    let dir = repo_root().join("docs/runbooks");
    for name in [
        "provider-outage",
        "regional-outage",
        "quota-exhaustion",
        "slow-provider",
        "quality-regression",
        "tool-misuse",
        "runaway-tenant",
        "high-risk-flow",
        "escalate-to-humans",
    ] {
        let path = dir.join(format!("{name}.md"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for part in [
            "**Alert**",
            "Dashboard (`/admin/dashboard`)",
            "signalbox what-changed",
            "**Act",
            "signalbox admin ",
            "**Verify**",
            "**Undo**",
        ] {
            assert!(text.contains(part), "{name}.md lacks {part}");
        }
        assert!(
            text.contains("`Signalbox"),
            "{name}.md names no alert of alerts.yaml"
        );
    }
}

/// Issue 16's list of alerts: each kind of trouble has a rule.
#[test]
fn the_alerts_cover_the_issues_list() {
    let alerts =
        std::fs::read_to_string(repo_root().join("deploy/prometheus/alerts.yaml")).unwrap();
    for (what, alert) in [
        ("route breaker open", "SignalboxRouteBreakerOpen"),
        ("breaker flapping", "SignalboxBreakerFlapping"),
        ("error-rate SLO burn", "SignalboxErrorRateBurn"),
        ("latency SLO burn", "SignalboxLatencySloBurn"),
        ("quota cooldowns", "SignalboxRouteSlowOrCooling"),
        ("quota exhaustion", "SignalboxQuotaExhausted"),
        ("degradation rate", "SignalboxDegradationRate"),
        ("decision-log drops", "SignalboxDecisionLogDrops"),
        (
            "eval score below threshold",
            "SignalboxQualityBelowThreshold",
        ),
        ("config reload failures", "SignalboxConfigReloadFailed"),
    ] {
        assert!(
            alerts.contains(&format!("alert: {alert}\n")),
            "no alert for {what} ({alert})"
        );
    }
}
