//! The human summary `signalbox check` prints.

use std::fmt::Write as _;

use crate::model::Config;

impl Config {
    /// `<origin>: OK (policy version …)`, the included files (if any), the counts, a line on tenants,
    /// rules and the decision log, a line per shadow rule and canary, then one line per alias listing its routes
    /// as `id (provider/model, region)` in failover order.
    pub fn summary(&self) -> String {
        let mut out = format!("{}: OK (policy version {})\n", self.origin, self.version);
        if !self.includes.is_empty() {
            let files: Vec<String> = self
                .includes
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            let _ = writeln!(out, "  includes {}", files.join(", "));
        }
        let _ = write!(
            out,
            "  {}, {}, {}",
            plural(self.providers.len(), "provider", "providers"),
            plural(self.routes.len(), "route", "routes"),
            plural(self.aliases.len(), "alias", "aliases"),
        );
        if !self.prompts.is_empty() {
            let versions: usize = self.prompts.iter().map(|p| p.versions.len()).sum();
            let _ = write!(
                out,
                ", {} ({})",
                plural(self.prompts.len(), "prompt", "prompts"),
                plural(versions, "version", "versions")
            );
        }
        out.push('\n');
        let decision_log = if self.decision_log.enabled {
            format!(
                "decision log {} ({})",
                self.decision_log.path.display(),
                humantime::format_duration(self.decision_log.retention)
            )
        } else {
            "decision log disabled".to_owned()
        };
        let _ = writeln!(
            out,
            "  {} (anonymous: {}), {}, {}, {decision_log}",
            plural(self.tenants.len(), "tenant", "tenants"),
            self.anonymous_tenant.as_deref().unwrap_or("none"),
            plural(self.policy_rules.len(), "policy rule", "policy rules"),
            plural(self.intents.rules.len(), "intent rule", "intent rules"),
        );
        if let crate::model::StateBackend::Redis { .. } = self.state.backend {
            // Never the URL: it may carry a password.
            let _ = writeln!(
                out,
                "  shared state in redis (key prefix {})",
                self.state.key_prefix
            );
        }
        self.rollout_lines(&mut out);
        self.alias_lines(&mut out);
        out
    }

    /// A line per shadow rule and per canary.
    fn rollout_lines(&self, out: &mut String) {
        for rule in &self.shadow.rules {
            let _ = writeln!(
                out,
                "  shadow {}: {}% of its requests mirrored to {}",
                rule.name,
                rule.sample * 100.0,
                rule.route
            );
        }
        for c in &self.canaries {
            let (baseline, canary) = c.subject.arms();
            let steps: Vec<String> = c
                .steps_bp
                .iter()
                .map(|&bp| format!("{}%", f64::from(bp) / 100.0))
                .collect();
            let _ = writeln!(
                out,
                "  canary {} on {}: {baseline} -> {canary} in steps {}",
                c.name,
                c.alias,
                steps.join(", ")
            );
        }
    }

    /// A line per alias: its routes in failover order.
    fn alias_lines(&self, out: &mut String) {
        for alias in &self.aliases {
            let routes: Vec<String> = alias
                .routes
                .iter()
                .map(|id| match self.route(id) {
                    Some(r) => format!("{id} ({}/{}, {})", r.provider, r.model, r.region),
                    None => id.to_string(),
                })
                .collect();
            let _ = write!(out, "  alias {} -> {}", alias.name, routes.join(", "));
            if alias.max_attempts != alias.routes.len() {
                let _ = write!(out, " (max {} attempts)", alias.max_attempts);
            }
            out.push('\n');
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
