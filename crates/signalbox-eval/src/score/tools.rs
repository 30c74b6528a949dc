//! Owns tool-call validity: the expected tool is called, its arguments
//! are JSON that validates against the tool's schema (or the case's own),
//! and the values the case declares match exactly.

use serde_json::Value;

use super::{Scorer, Verdict};
use crate::answer::Answer;
use crate::suite::{Case, ExpectTool};

/// Scores the answer's call of `expect.name`.
pub fn score(case: &Case, expect: &ExpectTool, answer: &Answer) -> Verdict {
    let Some(call) = answer.tool_calls.iter().find(|c| c.name == expect.name) else {
        let called: Vec<&str> = answer.tool_calls.iter().map(|c| c.name.as_str()).collect();
        let finding = match called.as_slice() {
            [] => format!("no call of `{}`", expect.name),
            _ => format!("called {called:?} instead of `{}`", expect.name),
        };
        return Verdict::of(Scorer::ToolCall, 0.0, vec![finding]);
    };
    let args: Value = match serde_json::from_str(&call.arguments) {
        Ok(v) => v,
        Err(e) => {
            let finding = format!("arguments are not JSON: {e}");
            return Verdict::of(Scorer::ToolCall, 0.25, vec![finding]);
        }
    };
    let mut findings = Vec::new();
    let schema = expect.schema.as_ref().or_else(|| {
        case.tools
            .iter()
            .find(|t| t.name == expect.name)
            .map(|t| &t.parameters)
    });
    if let Some(schema) = schema {
        match jsonschema::validator_for(schema) {
            Ok(v) => findings.extend(
                v.iter_errors(&args)
                    .take(3)
                    .map(|e| format!("arguments break the schema at `{}`: {e}", e.instance_path())),
            ),
            Err(e) => findings.push(format!("the tool's schema does not compile: {e}")),
        }
    }
    for (key, want) in &expect.arguments {
        match args.get(key) {
            Some(got) if got == want => {}
            Some(got) => findings.push(format!("argument `{key}` is {got}, expected {want}")),
            None => findings.push(format!("argument `{key}` is missing")),
        }
    }
    let value = if findings.is_empty() { 1.0 } else { 0.5 };
    Verdict::of(Scorer::ToolCall, value, findings)
}
