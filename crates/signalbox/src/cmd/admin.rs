//! `signalbox admin …`: operator actions over the gateway's admin API
//! (`POST`/`GET /admin/actions`, `DELETE /admin/actions/{id}`), one
//! subcommand per action kind plus `actions` (list) and `revert`.
//!
//! The token comes from `SIGNALBOX_ADMIN_TOKEN` or a file
//! (`--token-file`), never from a flag: a flag's value would sit in shell
//! history and in the process list. It is sent only as a bearer header and
//! never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use signalbox_core::operator::{Action, NewAction, OperatorAction, Target};

/// Where the gateway is and who calls it.
#[derive(Debug, Args)]
pub struct Conn {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "SIGNALBOX_ADMIN_URL",
        default_value = "http://127.0.0.1:4000",
        global = true
    )]
    url: String,
    /// A file holding the admin token (default: $SIGNALBOX_ADMIN_TOKEN).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// Print the gateway's JSON answer.
    #[arg(long, global = true)]
    json: bool,
}

/// How long and why (every action needs a reason).
#[derive(Debug, Args)]
pub struct Why {
    /// Why (required; recorded with the action and in the audit trail).
    #[arg(long)]
    reason: String,
    /// How long it lasts (e.g. 30m, 2h); default: until reverted.
    #[arg(long = "for", value_name = "DURATION")]
    ttl: Option<String>,
}

/// A route or a tenant.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RouteOrTenant {
    /// A route id.
    #[arg(long)]
    route: Option<String>,
    /// A tenant id.
    #[arg(long)]
    tenant: Option<String>,
}

/// An intent or a tenant.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct IntentOrTenant {
    /// An intent.
    #[arg(long)]
    intent: Option<String>,
    /// A tenant id.
    #[arg(long)]
    tenant: Option<String>,
}

/// An alias or an intent.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AliasOrIntent {
    /// An alias.
    #[arg(long)]
    alias: Option<String>,
    /// An intent.
    #[arg(long)]
    intent: Option<String>,
}

/// The admin subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Drain a route: no new requests; requests in flight finish.
    Drain {
        /// The route id.
        route: String,
        #[command(flatten)]
        why: Why,
    },
    /// Hold a route's breaker open.
    ForceOpen {
        /// The route id.
        route: String,
        #[command(flatten)]
        why: Why,
    },
    /// Hold a route's breaker closed.
    ForceClose {
        /// The route id.
        route: String,
        #[command(flatten)]
        why: Why,
    },
    /// Throttle a route (skipped past the limit) or a tenant (429 past it).
    Throttle {
        #[command(flatten)]
        target: RouteOrTenant,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens (prompt estimate + max_tokens) per minute.
        #[arg(long)]
        tpm: Option<u32>,
        #[command(flatten)]
        why: Why,
    },
    /// Serve an intent's or tenant's requests without tools.
    DisableTools {
        #[command(flatten)]
        target: IntentOrTenant,
        #[command(flatten)]
        why: Why,
    },
    /// Switch a flow (alias or intent) to fail-closed.
    FailClosed {
        #[command(flatten)]
        target: AliasOrIntent,
        #[command(flatten)]
        why: Why,
    },
    /// Hand an intent's requests to a human (the escalation path).
    Escalate {
        /// The intent.
        intent: String,
        #[command(flatten)]
        why: Why,
    },
    /// Serve an alias from one route only (hard constraints still apply).
    Pin {
        /// The alias.
        alias: String,
        /// The route id.
        route: String,
        #[command(flatten)]
        why: Why,
    },
    /// List the actions in force.
    Actions,
    /// Revert an action.
    Revert {
        /// The action id (`act-…`).
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
}

/// Runs one admin subcommand.
pub async fn run(conn: &Conn, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let body = match command {
        AdminCommand::Actions => {
            conn.call(reqwest::Method::GET, "/admin/actions", None)
                .await?
        }
        AdminCommand::Revert { id, reason } => {
            let path = format!("/admin/actions/{id}");
            let body = json!({"reason": reason});
            conn.call(reqwest::Method::DELETE, &path, Some(body))
                .await?
        }
        other => {
            let new = serde_json::to_value(new_action(other)?)?;
            conn.call(reqwest::Method::POST, "/admin/actions", Some(new))
                .await?
        }
    };
    let text = if conn.json {
        format!("{}\n", serde_json::to_string_pretty(&body)?)
    } else {
        describe(&body)
    };
    super::emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

impl Conn {
    /// Whether to print the gateway's JSON answer as it is.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// `GET path` on the gateway's admin API, as JSON.
    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// One call of the gateway's admin API with the token, its JSON answer
    /// (an error names the gateway's refusal).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let token = token(self)?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let base = self.url.trim_end_matches('/');
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let resp = request
            .bearer_auth(token)
            .send()
            .await
            .with_context(|| format!("cannot reach the gateway at {base}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("no explanation");
            bail!("the gateway refused ({status}): {message}");
        }
        Ok(body)
    }
}

/// The admin token: `--token-file`, else `$SIGNALBOX_ADMIN_TOKEN`.
fn token(conn: &Conn) -> anyhow::Result<String> {
    let token = match &conn.token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?,
        None => std::env::var("SIGNALBOX_ADMIN_TOKEN").unwrap_or_default(),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("no admin token: set SIGNALBOX_ADMIN_TOKEN or pass --token-file PATH");
    }
    Ok(token)
}

/// The body of `POST /admin/actions` for an action subcommand.
fn new_action(command: AdminCommand) -> anyhow::Result<NewAction> {
    let pick = |first: Option<String>,
                make_first: fn(String) -> Target,
                second: Option<String>,
                make_second: fn(String) -> Target| {
        first.map(make_first).or_else(|| second.map(make_second))
    };
    let (action, why) = match command {
        AdminCommand::Drain { route, why } => (Action::Drain { route }, why),
        AdminCommand::ForceOpen { route, why } => (Action::ForceOpen { route }, why),
        AdminCommand::ForceClose { route, why } => (Action::ForceClose { route }, why),
        AdminCommand::Throttle {
            target,
            rpm,
            tpm,
            why,
        } => {
            let target = pick(target.route, Target::Route, target.tenant, Target::Tenant)
                .context("name --route or --tenant")?;
            let action = Action::Throttle {
                target,
                requests_per_minute: rpm,
                tokens_per_minute: tpm,
            };
            (action, why)
        }
        AdminCommand::DisableTools { target, why } => {
            let target = pick(target.intent, Target::Intent, target.tenant, Target::Tenant)
                .context("name --intent or --tenant")?;
            (Action::DisableTools { target }, why)
        }
        AdminCommand::FailClosed { target, why } => {
            let target = pick(target.alias, Target::Alias, target.intent, Target::Intent)
                .context("name --alias or --intent")?;
            (Action::FailClosed { target }, why)
        }
        AdminCommand::Escalate { intent, why } => (Action::Escalate { intent }, why),
        AdminCommand::Pin { alias, route, why } => (Action::Pin { alias, route }, why),
        AdminCommand::Actions | AdminCommand::Revert { .. } => bail!("not an action"),
    };
    Ok(NewAction {
        action,
        reason: why.reason,
        ttl: why.ttl,
    })
}

/// One line per action (or the reverted one).
fn describe(body: &Value) -> String {
    let one = |v: &Value| match serde_json::from_value::<OperatorAction>(v.clone()) {
        Ok(a) => {
            let until = a.expires_ms.map_or_else(
                || "until reverted".to_owned(),
                |e| format!("until {}", rfc3339(e)),
            );
            format!(
                "{}  {}  {until}  by {}: {}\n",
                a.id, a.action, a.who, a.reason
            )
        }
        Err(_) => format!("{v}\n"),
    };
    if let Some(list) = body["actions"].as_array() {
        if list.is_empty() {
            return "no operator action in force\n".to_owned();
        }
        return list.iter().map(one).collect();
    }
    if let Some(reverted) = body.get("reverted") {
        return format!("reverted {}", one(reverted));
    }
    one(body)
}

pub(crate) fn rfc3339(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: AdminCommand,
    }

    fn body(args: &[&str]) -> Value {
        let cli = Cli::try_parse_from(std::iter::once("admin").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::to_value(new_action(cli.command).unwrap()).unwrap()
    }

    #[test]
    fn every_kind_becomes_its_api_body() {
        let cases = [
            (
                vec![
                    "drain",
                    "us-large",
                    "--for",
                    "30m",
                    "--reason",
                    "provider incident",
                ],
                json!({"action": {"kind": "drain", "route": "us-large"}, "reason": "provider incident", "ttl": "30m"}),
            ),
            (
                vec!["force-open", "r", "--reason", "x"],
                json!({"action": {"kind": "force-open", "route": "r"}, "reason": "x"}),
            ),
            (
                vec!["force-close", "r", "--reason", "x"],
                json!({"action": {"kind": "force-close", "route": "r"}, "reason": "x"}),
            ),
            (
                vec![
                    "throttle", "--tenant", "acme", "--rpm", "60", "--tpm", "1000", "--reason", "x",
                ],
                json!({"action": {"kind": "throttle", "target": {"tenant": "acme"}, "requests-per-minute": 60, "tokens-per-minute": 1000}, "reason": "x"}),
            ),
            (
                vec!["disable-tools", "--intent", "action", "--reason", "x"],
                json!({"action": {"kind": "disable-tools", "target": {"intent": "action"}}, "reason": "x"}),
            ),
            (
                vec!["fail-closed", "--alias", "chat", "--reason", "x"],
                json!({"action": {"kind": "fail-closed", "target": {"alias": "chat"}}, "reason": "x"}),
            ),
            (
                vec!["escalate", "refund", "--reason", "x"],
                json!({"action": {"kind": "escalate", "intent": "refund"}, "reason": "x"}),
            ),
            (
                vec!["pin", "chat", "eu-large", "--reason", "x"],
                json!({"action": {"kind": "pin", "alias": "chat", "route": "eu-large"}, "reason": "x"}),
            ),
        ];
        for (args, want) in cases {
            assert_eq!(body(&args), want, "{args:?}");
        }
    }

    #[test]
    fn a_reason_and_one_target_are_required() {
        for args in [
            vec!["admin", "drain", "r"],
            vec!["admin", "throttle", "--rpm", "5", "--reason", "x"],
            vec![
                "admin", "throttle", "--route", "r", "--tenant", "t", "--reason", "x",
            ],
            vec!["admin", "revert", "act-1"],
        ] {
            assert!(Cli::try_parse_from(&args).is_err(), "{args:?}");
        }
    }
}
