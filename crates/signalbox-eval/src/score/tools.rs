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
            Some(got) if same(got, want) => {}
            Some(got) => findings.push(format!("argument `{key}` is {got}, expected {want}")),
            None => findings.push(format!("argument `{key}` is missing")),
        }
    }
    for (key, allowed) in &expect.accept {
        let allowed = allowed.as_array().map(Vec::as_slice).unwrap_or_default();
        match args.get(key) {
            Some(got) if allowed.iter().any(|w| accepts(w, got)) => {}
            Some(got) => {
                findings.push(format!("argument `{key}` is {got}, not one of {allowed:?}"))
            }
            None if allowed.contains(&Value::Null) => {}
            None => findings.push(format!("argument `{key}` is missing")),
        }
    }
    let value = if findings.is_empty() { 1.0 } else { 0.5 };
    Verdict::of(Scorer::ToolCall, value, findings)
}

/// Equal as JSON values, numbers compared by value (`5` equals `5.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// Whether `got` is the alternative `alt`: objects field by field, each
/// field of `alt` a list of acceptable values (`null`: may be left out).
fn accepts(alt: &Value, got: &Value) -> bool {
    match (alt, got) {
        (Value::Object(a), Value::Object(g)) => a.iter().all(|(k, options)| {
            let options = options
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(std::slice::from_ref(options));
            match g.get(k) {
                Some(v) => options.iter().any(|o| accepts(o, v)),
                None => options.iter().any(Value::is_null),
            }
        }),
        (Value::Array(a), Value::Array(g)) => {
            a.len() == g.len() && a.iter().zip(g).all(|(a, g)| accepts(a, g))
        }
        _ => same(alt, got),
    }
}
