//! Owns structured-output validity: the answer's text is JSON (optionally
//! inside one fenced block) that matches the case's output schema.

use serde_json::Value;

use super::{Scorer, Verdict};
use crate::answer::Answer;

/// Scores `answer` against `schema`.
pub fn score(schema: &Value, answer: &Answer) -> Verdict {
    let text = unfenced(answer.text.trim());
    let instance: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Verdict::of(Scorer::Structured, 0.0, vec![format!("not JSON: {e}")]),
    };
    let findings = match jsonschema::validator_for(schema) {
        Ok(v) => v
            .iter_errors(&instance)
            .take(3)
            .map(|e| format!("breaks the schema at `{}`: {e}", e.instance_path()))
            .collect(),
        Err(e) => vec![format!("the output schema does not compile: {e}")],
    };
    let value = if findings.is_empty() { 1.0 } else { 0.5 };
    Verdict::of(Scorer::Structured, value, findings)
}

/// The inside of one ```json fenced block, or the text as it is.
fn unfenced(text: &str) -> &str {
    text.strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.strip_suffix("```"))
        .map_or(text, str::trim)
}
