//! Owns the operator-action model: what an operator may do to a running
//! gateway during an incident (drain a route, force a breaker, throttle,
//! disable tools, switch a flow to fail-closed, trigger human escalation,
//! pin an alias to a route), who did it, when, why and until when. The
//! actions live in the shared state (`signalbox-state`, `ActionStore`), not
//! in the configuration, so they survive reloads and reach every replica;
//! routing reads them from a snapshot. Structural validation is here (a
//! reason, a sane TTL, a target the kind accepts); whether a named route or
//! tenant exists is the gateway's check, against its configuration.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest TTL an action may be given: an action meant to outlive a
/// month belongs in the configuration.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 86_400);

/// What an action does, as a type: what roles are scoped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// No new requests on a route; requests in flight finish.
    Drain,
    /// The route's breaker is held open.
    ForceOpen,
    /// The route's breaker is held closed.
    ForceClose,
    /// At most so many requests or tokens per minute for a route or tenant.
    Throttle,
    /// Requests of an intent or tenant are served without tools.
    DisableTools,
    /// A flow (alias or intent) takes no fallback and no degradation step.
    FailClosed,
    /// Requests of an intent go to a human (the escalation path).
    Escalate,
    /// An alias is served by one route only.
    Pin,
}

impl ActionKind {
    /// Every kind, in the order docs list them.
    pub const ALL: [Self; 8] = [
        Self::Drain,
        Self::ForceOpen,
        Self::ForceClose,
        Self::Throttle,
        Self::DisableTools,
        Self::FailClosed,
        Self::Escalate,
        Self::Pin,
    ];

    /// The kind's name in the API, the CLI, the configuration and records.
    pub fn label(self) -> &'static str {
        match self {
            Self::Drain => "drain",
            Self::ForceOpen => "force-open",
            Self::ForceClose => "force-close",
            Self::Throttle => "throttle",
            Self::DisableTools => "disable-tools",
            Self::FailClosed => "fail-closed",
            Self::Escalate => "escalate",
            Self::Pin => "pin",
        }
    }

    /// The kind named `label`.
    pub fn parse(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == label)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What an action applies to: `{"route": "us-large"}`, `{"tenant": "acme"}`…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// A route id.
    Route(String),
    /// A tenant id.
    Tenant(String),
    /// An intent name.
    Intent(String),
    /// An alias name.
    Alias(String),
}

impl Target {
    /// `route`, `tenant`, `intent` or `alias`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Route(_) => "route",
            Self::Tenant(_) => "tenant",
            Self::Intent(_) => "intent",
            Self::Alias(_) => "alias",
        }
    }

    /// The named thing.
    pub fn name(&self) -> &str {
        match self {
            Self::Route(n) | Self::Tenant(n) | Self::Intent(n) | Self::Alias(n) => n,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.label(), self.name())
    }
}

/// One action with its typed target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    deny_unknown_fields
)]
pub enum Action {
    /// No new requests on `route`.
    Drain {
        /// The route id.
        route: String,
    },
    /// `route`'s breaker held open.
    ForceOpen {
        /// The route id.
        route: String,
    },
    /// `route`'s breaker held closed.
    ForceClose {
        /// The route id.
        route: String,
    },
    /// A route or tenant limited per minute.
    Throttle {
        /// A route (skipped past the limit) or a tenant (429 past it).
        target: Target,
        /// Requests per minute.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requests_per_minute: Option<u32>,
        /// Prompt estimate + `max_tokens` per minute.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens_per_minute: Option<u32>,
    },
    /// An intent's or tenant's requests served without tools.
    DisableTools {
        /// An intent or a tenant.
        target: Target,
    },
    /// A flow switched to fail-closed.
    FailClosed {
        /// An alias or an intent.
        target: Target,
    },
    /// An intent's requests handed to a human.
    Escalate {
        /// The intent name.
        intent: String,
    },
    /// `alias` served by `route` only (hard constraints still apply).
    Pin {
        /// The alias name.
        alias: String,
        /// The route id.
        route: String,
    },
}

impl Action {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Drain { .. } => ActionKind::Drain,
            Self::ForceOpen { .. } => ActionKind::ForceOpen,
            Self::ForceClose { .. } => ActionKind::ForceClose,
            Self::Throttle { .. } => ActionKind::Throttle,
            Self::DisableTools { .. } => ActionKind::DisableTools,
            Self::FailClosed { .. } => ActionKind::FailClosed,
            Self::Escalate { .. } => ActionKind::Escalate,
            Self::Pin { .. } => ActionKind::Pin,
        }
    }

    /// Every name the action refers to, with the field that holds it (for
    /// the gateway's "unknown route" check).
    pub fn references(&self) -> Vec<(&'static str, Target)> {
        let route = |r: &String| Target::Route(r.clone());
        match self {
            Self::Drain { route: r }
            | Self::ForceOpen { route: r }
            | Self::ForceClose { route: r } => {
                vec![("action.route", route(r))]
            }
            Self::Throttle { target, .. }
            | Self::DisableTools { target }
            | Self::FailClosed { target } => vec![("action.target", target.clone())],
            Self::Escalate { intent } => vec![("action.intent", Target::Intent(intent.clone()))],
            Self::Pin { alias, route: r } => vec![
                ("action.alias", Target::Alias(alias.clone())),
                ("action.route", route(r)),
            ],
        }
    }

    /// Checks what needs no configuration: non-empty names, a target the
    /// kind accepts, a throttle with a positive limit.
    fn validate(&self) -> Result<(), ActionError> {
        for (field, target) in self.references() {
            if target.name().trim().is_empty() {
                return Err(ActionError::new(field, "must not be empty"));
            }
        }
        let allowed: &[&str] = match self {
            Self::Throttle { .. } => &["route", "tenant"],
            Self::DisableTools { .. } => &["intent", "tenant"],
            Self::FailClosed { .. } => &["alias", "intent"],
            _ => return Ok(()),
        };
        if let Self::Throttle {
            target,
            requests_per_minute,
            tokens_per_minute,
        } = self
        {
            check_target(target, allowed)?;
            return match (requests_per_minute, tokens_per_minute) {
                (None, None) => Err(ActionError::new(
                    "action.requests-per-minute",
                    "a throttle needs requests-per-minute or tokens-per-minute",
                )),
                (Some(0), _) => Err(ActionError::new(
                    "action.requests-per-minute",
                    "must be > 0",
                )),
                (_, Some(0)) => Err(ActionError::new("action.tokens-per-minute", "must be > 0")),
                _ => Ok(()),
            };
        }
        match self {
            Self::DisableTools { target } | Self::FailClosed { target } => {
                check_target(target, allowed)
            }
            _ => Ok(()),
        }
    }
}

fn check_target(target: &Target, allowed: &[&str]) -> Result<(), ActionError> {
    if allowed.contains(&target.label()) {
        Ok(())
    } else {
        Err(ActionError::new(
            "action.target",
            format!(
                "this kind applies to a {}, not a {}",
                allowed.join(" or "),
                target.label()
            ),
        ))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Drain { route } => write!(f, "drain route {route}"),
            Self::ForceOpen { route } => write!(f, "force-open route {route}"),
            Self::ForceClose { route } => write!(f, "force-close route {route}"),
            Self::Throttle {
                target,
                requests_per_minute,
                tokens_per_minute,
            } => {
                write!(f, "throttle {target}")?;
                if let Some(r) = requests_per_minute {
                    write!(f, " to {r} requests/min")?;
                }
                if let Some(t) = tokens_per_minute {
                    write!(f, " to {t} tokens/min")?;
                }
                Ok(())
            }
            Self::DisableTools { target } => write!(f, "disable tools for {target}"),
            Self::FailClosed { target } => write!(f, "fail-closed for {target}"),
            Self::Escalate { intent } => write!(f, "escalate intent {intent} to a human"),
            Self::Pin { alias, route } => write!(f, "pin alias {alias} to route {route}"),
        }
    }
}

/// An admin role. Roles are ordered: each can do what the ones before it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Reads routes, decisions and actions; changes nothing.
    ReadOnly,
    /// Also creates and reverts actions of its permitted kinds.
    Operator,
    /// Everything, including reload (the `admin.token`).
    Admin,
}

impl Role {
    /// `read-only`, `operator` or `admin`.
    pub fn label(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// Who made an admin call: the token's name and role (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The token's configured name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.role.label())
    }
}

/// An action in force: what, who, when, why and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorAction {
    /// The action's id (`act-…`), named in skips, records and `DELETE`.
    pub id: String,
    /// What it does.
    pub action: Action,
    /// Who created it.
    pub who: Actor,
    /// When (ms since the Unix epoch).
    pub created_ms: u64,
    /// When it expires by itself (ms since the Unix epoch), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// Why (required).
    pub reason: String,
}

impl OperatorAction {
    /// Whether it is still in force at `now_ms`.
    pub fn active_at(&self, now_ms: u64) -> bool {
        self.expires_ms.is_none_or(|e| now_ms < e)
    }

    /// How it is named where it changed a decision:
    /// `operator action act-1 (drain route r: provider incident)`.
    pub fn cite(&self) -> String {
        format!(
            "operator action {} ({}: {})",
            self.id, self.action, self.reason
        )
    }
}

/// `POST /admin/actions`: an action to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAction {
    /// What to do.
    pub action: Action,
    /// Why (required, non-empty).
    #[serde(default)]
    pub reason: String,
    /// How long it lasts (humantime, e.g. `30m`); none: until reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

impl NewAction {
    /// The action in force from `now_ms`, created by `who` as `id`; every
    /// structural error names its field.
    pub fn into_action(
        self,
        id: String,
        who: Actor,
        now_ms: u64,
    ) -> Result<OperatorAction, ActionError> {
        let reason = required_reason(&self.reason)?;
        self.action.validate()?;
        let expires_ms = match self.ttl.as_deref() {
            None => None,
            Some(text) => {
                let ttl = parse_ttl(text)?;
                let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                Some(now_ms.saturating_add(ms))
            }
        };
        Ok(OperatorAction {
            id,
            action: self.action,
            who,
            created_ms: now_ms,
            expires_ms,
            reason,
        })
    }
}

/// A reason, trimmed; an empty one is an error naming `reason`.
pub fn required_reason(reason: &str) -> Result<String, ActionError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ActionError::new(
            "reason",
            "a reason is required (say why, for the audit trail)",
        ));
    }
    if reason.len() > 1000 {
        return Err(ActionError::new("reason", "at most 1000 bytes"));
    }
    Ok(reason.to_owned())
}

/// A TTL in humantime form (`30m`, `2h`), > 0 and at most [`MAX_TTL`].
pub fn parse_ttl(text: &str) -> Result<Duration, ActionError> {
    let ttl = humantime::parse_duration(text.trim()).map_err(|e| {
        ActionError::new(
            "ttl",
            format!("{text:?} is not a duration like 30m or 2h: {e}"),
        )
    })?;
    if ttl.is_zero() {
        return Err(ActionError::new("ttl", "must be > 0"));
    }
    if ttl > MAX_TTL {
        return Err(ActionError::new("ttl", "at most 30 days"));
    }
    Ok(ttl)
}

/// An invalid action, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ActionError {
    /// The field (`reason`, `ttl`, `action.route`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ActionError {
    /// An error at `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests;
