//! Owns the one declared behaviour for a request's reasoning effort on
//! targets that do not spell it `reasoning_effort`: carried as a thinking
//! budget where the route declares `supports.reasoning` and the target can
//! express it (Anthropic and Bedrock's Anthropic models:
//! `thinking.budget_tokens`; Gemini: `thinkingConfig.thinkingBudget`),
//! dropped with a note otherwise. OpenAI-format targets send
//! `reasoning_effort` as is (`openai/render.rs`). The effort → budget
//! mapping is `ReasoningEffort::budget_tokens` (docs/api.md).

use serde_json::{Map, Value, json};

use crate::canonical::ChatRequest;
use crate::note::Notes;
use crate::route::RouteSettings;

/// The field every reasoning note names (the chat API's spelling, which
/// the pipeline's request carries whatever the ingress).
pub(crate) const FIELD: &str = "reasoning_effort";

/// Anthropic's smallest thinking budget.
pub(crate) const MIN_BUDGET: u32 = 1024;

/// The effort's thinking budget, or `None` when the request asks for none
/// or (noted) the route does not declare `supports.reasoning`: a model
/// without thinking refuses the field, so it is not sent.
pub(crate) fn budget(
    target: &str,
    req: &ChatRequest,
    route: &RouteSettings,
    notes: &mut Notes,
) -> Option<u32> {
    let effort = req.reasoning?;
    if !route.reasoning {
        notes.dropped(
            FIELD,
            format!("the route does not declare supports.reasoning ({target} thinking)"),
        );
        return None;
    }
    Some(effort.budget_tokens())
}

/// Notes the effort dropped by a target with no way to say it.
pub(crate) fn unsupported(target: &str, req: &ChatRequest, notes: &mut Notes) {
    if req.reasoning.is_some() {
        notes.dropped(
            FIELD,
            format!("{target} has no reasoning effort or thinking budget"),
        );
    }
}

/// A thinking budget under Anthropic's rule `budget_tokens < max_tokens`
/// (thinking counts within `max_tokens`), as `(budget, max_tokens)`: a
/// `max_tokens` at or under the budget is raised to budget + `max_tokens`
/// (the answer keeps the room it asked for), up to the route's output
/// limit; when the limit leaves less, thinking gets half of it. `None`
/// when that is under [`MIN_BUDGET`].
pub(crate) fn fit(budget: u32, max_tokens: u32, limit: Option<u32>) -> Option<(u32, u32)> {
    if budget < max_tokens {
        return Some((budget, max_tokens));
    }
    let raised = budget.saturating_add(max_tokens);
    let total = limit.map_or(raised, |l| raised.min(l.max(max_tokens)));
    let budget = if budget < total { budget } else { total / 2 };
    (budget >= MIN_BUDGET).then_some((budget, total))
}

/// Anthropic-style extended thinking for `req` (Anthropic Messages, and
/// Anthropic models through Bedrock Converse): the `thinking` object and
/// the `max_tokens` to send with it, noted; `None` (noted when asked for)
/// when the route or the request cannot take it. `forced` says the
/// request forces a tool call (`tool_choice`, or structured output's
/// forced tool), which Anthropic refuses alongside thinking.
pub(crate) fn anthropic_thinking(
    target: &str,
    req: &ChatRequest,
    route: &RouteSettings,
    max_tokens: u32,
    forced: bool,
    notes: &mut Notes,
) -> Option<(Value, u32)> {
    let budget = budget(target, req, route, notes)?;
    if forced {
        notes.dropped(
            FIELD,
            format!("{target} refuses extended thinking with a forced tool call"),
        );
        return None;
    }
    let Some((budget, total)) = fit(budget, max_tokens, route.max_output_tokens) else {
        notes.dropped(
            FIELD,
            format!(
                "the route's output limit leaves no room for a {MIN_BUDGET}-token thinking budget"
            ),
        );
        return None;
    };
    notes.translated(
        FIELD,
        format!("sent as thinking.budget_tokens={budget} (low/medium/high: 1024/4096/16384)"),
    );
    if total != max_tokens {
        notes.translated(
            "sampling.max_tokens",
            format!("raised to {total}: {target} counts thinking within max_tokens"),
        );
    }
    Some((json!({"type": "enabled", "budget_tokens": budget}), total))
}

/// Removes the sampling settings Anthropic refuses alongside extended
/// thinking (`temperature`, `top_k`; `top_p` below 0.95), noted.
/// `names` are the target's spellings of temperature, top_k and top_p.
pub(crate) fn strip_sampling(out: &mut Map<String, Value>, names: [&str; 3], notes: &mut Notes) {
    let [temperature, top_k, top_p] = names;
    for (key, field) in [
        (temperature, "sampling.temperature"),
        (top_k, "sampling.top_k"),
    ] {
        if out.remove(key).is_some() {
            notes.dropped(field, "not accepted with extended thinking");
        }
    }
    if out
        .get(top_p)
        .and_then(Value::as_f64)
        .is_some_and(|p| p < 0.95)
    {
        out.remove(top_p);
        notes.dropped(
            "sampling.top_p",
            "below 0.95 is not accepted with extended thinking",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_always_stays_under_max_tokens() {
        // Room enough: sent as asked.
        assert_eq!(fit(1024, 8000, Some(8000)), Some((1024, 8000)));
        // Raised so the answer keeps the room it asked for.
        assert_eq!(fit(4096, 500, Some(32000)), Some((4096, 4596)));
        assert_eq!(fit(16384, 64, None), Some((16384, 16448)));
        // The route's limit caps the total: thinking gets half of it.
        assert_eq!(fit(16384, 64, Some(4096)), Some((2048, 4096)));
        assert_eq!(fit(1024, 100, Some(1500)), Some((1024, 1124)));
        // No room for the minimum budget: not sent.
        assert_eq!(fit(4096, 1000, Some(1500)), None);
    }
}
