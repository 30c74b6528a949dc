//! Owns the reasoning effort a request asks for (Responses
//! `reasoning.effort`, chat `reasoning_effort`) and its one declared
//! mapping to the token budgets of providers that take a budget instead
//! (Anthropic `thinking.budget_tokens`, Gemini `thinkingBudget`).

/// How hard a reasoning model should think before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningEffort {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
}

impl ReasoningEffort {
    /// The effort named `name` (`low`, `medium`, `high`); `None` for any
    /// other value, which is left where the client wrote it.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }

    /// The OpenAI name of the effort.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    /// The smallest effort whose budget covers `budget` thinking tokens
    /// (an Anthropic client's `thinking.budget_tokens`, for routes reached
    /// through another format).
    pub fn for_budget(budget: u64) -> Self {
        [Self::Low, Self::Medium]
            .into_iter()
            .find(|e| budget <= u64::from(e.budget_tokens()))
            .unwrap_or(Self::High)
    }

    /// The thinking budget in tokens sent to providers that take a budget:
    /// 1024 (Anthropic's minimum) / 4096 / 16384 (docs/api.md).
    pub fn budget_tokens(self) -> u32 {
        match self {
            Self::Low => 1024,
            Self::Medium => 4096,
            Self::High => 16384,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efforts_round_trip_and_budgets_grow() {
        for e in [
            ReasoningEffort::Low,
            ReasoningEffort::Medium,
            ReasoningEffort::High,
        ] {
            assert_eq!(ReasoningEffort::parse(e.as_str()), Some(e));
        }
        assert_eq!(ReasoningEffort::parse("minimal"), None);
        assert_eq!(ReasoningEffort::Low.budget_tokens(), 1024);
        assert_eq!(ReasoningEffort::Medium.budget_tokens(), 4096);
        assert_eq!(ReasoningEffort::High.budget_tokens(), 16384);
        assert_eq!(ReasoningEffort::for_budget(1024), ReasoningEffort::Low);
        assert_eq!(ReasoningEffort::for_budget(2048), ReasoningEffort::Medium);
        assert_eq!(ReasoningEffort::for_budget(4096), ReasoningEffort::Medium);
        assert_eq!(ReasoningEffort::for_budget(32000), ReasoningEffort::High);
    }
}
