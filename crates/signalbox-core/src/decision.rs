//! The decision record: what the gateway decided for one request and why.
//! Every stage appends to it; the gateway's recorder writes it to the
//! decision log; `signalbox explain` reads it back. It never holds prompt or
//! completion text unless the tenant's policy allows content logging.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{AttemptRecord, Usage};

mod reorder;

pub use reorder::{DemotionKind, DemotionRecord, ReorderRecord};

/// Where a signal's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// The caller's API key (its tenant).
    Key,
    /// A request header.
    Header,
    /// The request body.
    Body,
    /// An intent rule matched.
    Rule,
    /// The configured default.
    Default,
    /// The tenant's configuration.
    Tenant,
}

/// One signal with its value and source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecord {
    /// Signal name (`tenant`, `region`, `intent`, …). Borrowed when
    /// static, as the value may be: a record is built for every request,
    /// and these were most of its allocations.
    pub name: Cow<'static, str>,
    /// Its value, as text.
    pub value: Cow<'static, str>,
    /// Where the value came from.
    pub source: SignalSource,
    /// Extra detail (the rule name for an intent, the token-count method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One policy rule as evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// Rule name.
    pub name: String,
    /// Whether it matched.
    pub matched: bool,
    /// The first condition that failed, when it did not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// One constraint's verdict on one route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Constraint name (`region`, `context_window`, `retention`, …);
    /// borrowed when static (every verdict of every request has one).
    pub constraint: Cow<'static, str>,
    /// Whether the route satisfies it.
    pub ok: bool,
    /// Human-readable evidence, e.g. `region eu ∈ [eu]`.
    pub detail: String,
}

/// One candidate route with its verdicts and ranking inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    /// Route id.
    pub route: String,
    /// Whether every hard constraint held.
    pub eligible: bool,
    /// Each constraint's verdict, in evaluation order.
    pub verdicts: Vec<Verdict>,
    /// Ranking score (eligible routes only; higher is better).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Estimated cost of this request on this route, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_estimate_usd: Option<f64>,
}

/// The whole record of one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The gateway's own id for the request (`x-signalbox-request-id`):
    /// generated for every request, never taken from the caller, so it is
    /// unique and is the decision log's key.
    pub request_id: String,
    /// The `x-request-id` the caller sent, when it sent a usable one. Not
    /// unique: any caller may send any value, so it identifies a record only
    /// together with its tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_request_id: Option<String>,
    /// Milliseconds since the Unix epoch when the request arrived.
    pub time_ms: u64,
    /// Tenant id (`-` when authentication failed).
    pub tenant: String,
    /// The policy version the request was decided under.
    pub policy_version: String,
    /// The alias (model) the caller asked for.
    #[serde(default)]
    pub alias: Option<String>,
    /// Every signal with its source.
    #[serde(default)]
    pub signals: Vec<SignalRecord>,
    /// Every rule evaluated, in order.
    #[serde(default)]
    pub rules: Vec<RuleRecord>,
    /// The rule that selected the candidates (`None`: the alias default).
    #[serde(default)]
    pub rule: Option<String>,
    /// Every candidate route with its verdicts.
    #[serde(default)]
    pub candidates: Vec<CandidateRecord>,
    /// Eligible routes in the order they would be tried.
    #[serde(default)]
    pub ranking: Vec<String>,
    /// `fail_closed` or `degrade`.
    #[serde(default)]
    pub failure_mode: String,
    /// The route that served, if any.
    #[serde(default)]
    pub chosen: Option<String>,
    /// The serving route's provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// The serving route's model version.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Every upstream attempt, in order.
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    /// `served`, `refused` (the gateway's own refusal), `rejected` (the
    /// upstream refused the request), or `failed` (upstreams failed).
    pub outcome: String,
    /// The HTTP status returned.
    pub status: u16,
    /// The error message returned, if any.
    #[serde(default)]
    pub error: Option<String>,
    /// Whether the caller asked for a stream.
    #[serde(default)]
    pub stream: bool,
    /// Token usage reported by the provider (or, when `usage_estimated`,
    /// the gateway's estimate).
    #[serde(default)]
    pub usage: Option<Usage>,
    /// `usage` is the gateway's estimate, not the provider's report: a
    /// stream that ended (cut, cancelled, or never asked for usage) before
    /// the provider said what it used; the prompt-token estimate plus one
    /// completion token per event forwarded, as the budget is charged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub usage_estimated: bool,
    /// Cost of the request in USD (usage × the serving route's prices).
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// Time until the response head (streams: the first event), ms.
    pub latency_ms: u64,
    /// Prompt and completion, only when the tenant allows content logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<serde_json::Value>,
    /// Routes not tried because of their health (circuit open, cooldown, capacity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkipRecord>,
    /// Degradation steps taken (`fallback-route`, `reduced-context`, …), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
    /// Ids of the operator actions that changed this request's routing
    /// (drains and pins also name theirs in `skipped`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_actions: Vec<String>,
    /// The session's sticky route, when the request named a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_route: Option<String>,
    /// Whether the request was handled at-most-once (irreversible).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_most_once: bool,
    /// Why the attempt loop stopped early (retry budget, deadline, at-most-once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// `executed` or `replayed` when the request carried an `Idempotency-Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<String>,
    /// Per trust zone: the data classes found and the actions taken
    /// (counts, never values), and any classes that blocked the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<serde_json::Value>,
    /// What translating the request for the serving provider's wire format
    /// dropped or changed (never silent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub translation: Vec<TranslationRecord>,
    /// The W3C trace id (`traceparent`) the request belongs to: the
    /// caller's, or one the gateway started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The registered prompt used, `id@version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_version: Option<String>,
    /// The prompt variant the serving route got: its provider family, or
    /// `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_variant: Option<String>,
    /// A stream that broke after its first event and was continued on
    /// another route (`on-stream-break: continue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued: Option<ContinuedRecord>,
    /// The canary rollout that put the request in an arm: its name, the
    /// arm and why (`v2: canary arm (session bucket 12 < 500 of 10000: 5%
    /// to new-route)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
    /// Routes moved down the try order without being skipped (a route the
    /// quality loop warned about, outside its share), with the order tried:
    /// only when one was moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reordered: Option<Box<ReorderRecord>>,
}

/// How a broken stream was continued: the answer's text up to the break
/// came from `from`, the rest from `to` (the attempts list has both).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContinuedRecord {
    /// The route whose stream broke.
    pub from: String,
    /// The route that continued it (`None`: no route could; the caller
    /// got the break's error event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Why the first stream broke.
    pub detail: String,
    /// Characters of text delivered before the break (the prefill).
    pub delivered_chars: u64,
}

/// One field a provider translation dropped or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslationRecord {
    /// Canonical field path, e.g. `sampling.seed`.
    pub field: String,
    /// `dropped` or `translated`.
    pub action: String,
    /// Why.
    pub reason: String,
}

/// A route the dispatcher did not try, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipRecord {
    /// Route id.
    pub route: String,
    /// What kind of skip: what the gateway decides on (never the text).
    #[serde(default)]
    pub kind: SkipKind,
    /// Why, for people (e.g. `circuit open for 12.0s more (5 failures in a
    /// row …)`).
    pub reason: String,
    /// The operator action that caused the skip (kind `operator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl SkipRecord {
    /// A skip of `route` of this kind, explained by `reason`.
    pub fn new(route: impl Into<String>, kind: SkipKind, reason: impl Into<String>) -> Self {
        Self {
            route: route.into(),
            kind,
            reason: reason.into(),
            action: None,
        }
    }

    /// A skip of `route` caused by the operator action `action`.
    pub fn operator(route: impl Into<String>, action: &crate::operator::OperatorAction) -> Self {
        Self {
            route: route.into(),
            kind: SkipKind::Operator,
            reason: action.cite(),
            action: Some(action.id.clone()),
        }
    }
}

/// Why a route was not tried, as a type: decisions (a 400 when no route can
/// carry the request, a 503 otherwise) are made on this, never on the
/// reason's text. Recorded as its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// The route's provider cannot express the request (a field it lacks).
    CannotCarry,
    /// Its circuit is open.
    CircuitOpen,
    /// Its circuit is open on another replica (shared state).
    OpenElsewhere,
    /// Half-open, with every trial slot in flight.
    HalfOpenFull,
    /// In a quota cooldown after a 429.
    Cooldown,
    /// At its `max-requests-per-second`.
    AtRate,
    /// At its `max-concurrency` for this tenant (the queue timed out or was
    /// full).
    AtCapacity,
    /// A weaker posture than the policy's first choice.
    WeakerPosture,
    /// The privacy boundary of its zone blocks a class the request carries.
    PrivacyBlocked,
    /// Its answers to the quality suites fell below their thresholds.
    QualityRegression,
    /// An operator action keeps it out (drained, forced open, throttled, or
    /// another route pinned); the record's `action` names which.
    Operator,
    /// A provider said the prompt overflowed an earlier route's context
    /// window, and this route's window is no larger.
    ContextWindow,
    /// A canary rollout put the request in the other arm (the reason names
    /// the canary, the arm, the session's bucket and the step).
    Canary,
    /// Recorded before skips had kinds.
    #[default]
    Unknown,
}

impl SkipKind {
    /// The kind's name in records and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::CannotCarry => "cannot_carry",
            Self::CircuitOpen => "circuit_open",
            Self::OpenElsewhere => "open_elsewhere",
            Self::HalfOpenFull => "half_open_full",
            Self::Cooldown => "cooldown",
            Self::AtRate => "at_rate",
            Self::AtCapacity => "at_capacity",
            Self::WeakerPosture => "weaker_posture",
            Self::PrivacyBlocked => "privacy_blocked",
            Self::QualityRegression => "quality_regression",
            Self::Operator => "operator",
            Self::ContextWindow => "context_window",
            Self::Canary => "canary",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for SkipKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl std::fmt::Display for SkipRecord {
    /// `route r skipped (operator): operator action act-1 (…)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "route {} skipped ({}): {}",
            self.route, self.kind, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_records_its_kind_by_label_and_old_records_read_as_unknown() {
        let skip = SkipRecord::new("r", SkipKind::CannotCarry, "cannot carry the request: x");
        let v = serde_json::to_value(&skip).unwrap();
        assert_eq!(v["kind"], SkipKind::CannotCarry.label());
        let back: SkipRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, skip);
        let old: SkipRecord =
            serde_json::from_str(r#"{"route":"r","reason":"circuit open"}"#).unwrap();
        assert_eq!(old.kind, SkipKind::Unknown);
    }

    #[test]
    fn an_operator_skip_names_its_action() {
        let action = crate::operator::OperatorAction {
            id: "act-7".into(),
            action: crate::operator::Action::Drain { route: "r".into() },
            who: crate::operator::Actor {
                name: "oncall".into(),
                role: crate::operator::Role::Operator,
            },
            created_ms: 0,
            expires_ms: None,
            reason: "provider incident".into(),
        };
        let skip = SkipRecord::operator("r", &action);
        let v = serde_json::to_value(&skip).unwrap();
        assert_eq!(v["kind"], "operator");
        assert_eq!(v["action"], "act-7");
        assert_eq!(
            skip.to_string(),
            "route r skipped (operator): operator action act-7 (drain route r: provider incident)"
        );
    }
}
