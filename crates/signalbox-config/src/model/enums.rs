//! Small closed vocabularies used by routes, tenants and policy rules.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;

/// A route capability a policy selector can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Tool / function calling.
    Tools,
    /// Image inputs.
    Vision,
    /// `response_format: json_object`.
    JsonMode,
    /// `stream: true`.
    Streaming,
}

impl Capability {
    /// Every capability, in config-file order.
    pub const ALL: [Self; 4] = [Self::Tools, Self::Vision, Self::JsonMode, Self::Streaming];

    /// The kebab-case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Vision => "vision",
            Self::JsonMode => "json-mode",
            Self::Streaming => "streaming",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Content-filtering posture of a route; orders weakest (`None`) first, so
/// `route.content_filter >= required` checks a requirement.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ContentFilter {
    /// No content filtering.
    None,
    /// The provider's standard filtering.
    #[default]
    Standard,
    /// Strict filtering: the strongest posture.
    Strict,
}

impl ContentFilter {
    /// Every posture, weakest first.
    pub const ALL: [Self; 3] = [Self::None, Self::Standard, Self::Strict];

    /// The kebab-case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Standard => "standard",
            Self::Strict => "strict",
        }
    }

    /// Parses the kebab-case name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ContentFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a policy rule does when no route satisfies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureMode {
    /// Refuse the request rather than relax any constraint.
    FailClosed,
    /// Walk the rule's degrade steps.
    #[default]
    Degrade,
}

impl FailureMode {
    /// The name used in decision records and metrics (`fail_closed`, `degrade`);
    /// the config file writes `fail-closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "fail_closed",
            Self::Degrade => "degrade",
        }
    }
}

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step a degrading rule may take, in the order listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DegradeStep {
    /// Try routes outside the rule's selection (still within hard constraints).
    FallbackRoute,
    /// Accept a smaller model.
    SmallerModel,
    /// Trim the context to fit a smaller window.
    ReducedContext,
    /// Drop tools so routes without tool support qualify.
    ToolsDisabled,
    /// Hand the request to a human instead of a model.
    HumanEscalation,
}

impl DegradeStep {
    /// Every step, in config-file order.
    pub const ALL: [Self; 5] = [
        Self::FallbackRoute,
        Self::SmallerModel,
        Self::ReducedContext,
        Self::ToolsDisabled,
        Self::HumanEscalation,
    ];

    /// The kebab-case name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FallbackRoute => "fallback-route",
            Self::SmallerModel => "smaller-model",
            Self::ReducedContext => "reduced-context",
            Self::ToolsDisabled => "tools-disabled",
            Self::HumanEscalation => "human-escalation",
        }
    }
}

impl fmt::Display for DegradeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
