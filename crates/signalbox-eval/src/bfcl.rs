//! Owns importing the Berkeley Function Calling Leaderboard's data (as the
//! `bfcl-eval` package ships it: a questions file and a possible-answers
//! file, JSON lines) into a suite of tool-call cases. BFCL's parameter
//! types become JSON Schema (`dict` → object, `float` → number, `tuple` →
//! array, `any` → anything), and each case expects the one call BFCL's
//! ground truth names, every argument one of its acceptable values (BFCL's
//! `""` means the argument may be left out). Only single-call cases with a
//! single turn are imported; the rest are counted as skipped.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use thiserror::Error;

use crate::suite::{Case, Expect, ExpectTool, Suite, ToolSpec};

/// Why a BFCL file could not be read.
#[derive(Debug, Error)]
pub enum ImportError {
    /// A line is not what BFCL writes.
    #[error("{file} line {line}: {problem}")]
    Line {
        /// Which file.
        file: &'static str,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// An imported suite, and what was left out.
#[derive(Debug)]
pub struct Imported {
    /// The cases.
    pub suite: Suite,
    /// Questions skipped: several calls, several turns, or no answer.
    pub skipped: usize,
}

#[derive(Deserialize)]
struct Question {
    id: String,
    question: Vec<Vec<Value>>,
    function: Vec<Function>,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    description: Option<String>,
    parameters: Value,
}

#[derive(Deserialize)]
struct Answer {
    id: String,
    ground_truth: Vec<Map<String, Value>>,
}

/// Imports at most `limit` cases of `category` from BFCL's questions and
/// possible answers (both JSON lines).
pub fn import(
    category: &str,
    questions: &str,
    answers: &str,
    limit: usize,
) -> Result<Imported, ImportError> {
    let answers: Vec<Answer> = lines("possible answers", answers)?;
    let mut cases = Vec::new();
    let mut skipped = 0;
    for q in lines::<Question>("questions", questions)? {
        if cases.len() == limit {
            break;
        }
        let answer = answers.iter().find(|a| a.id == q.id);
        match (
            answer.map(|a| a.ground_truth.as_slice()),
            q.question.as_slice(),
        ) {
            (Some([call]), [turn]) if call.len() == 1 => cases.push(case(category, &q, turn, call)),
            _ => skipped += 1,
        }
    }
    Ok(Imported {
        suite: Suite {
            suite: format!("bfcl-{category}"),
            description: Some(
                "Imported from the Berkeley Function Calling Leaderboard (bfcl-eval)".into(),
            ),
            refusal_patterns: None,
            data_classes: Vec::new(),
            cases,
        },
        skipped,
    })
}

fn lines<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<Vec<T>, ImportError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ImportError::Line {
                file,
                line: i + 1,
                problem: e.to_string(),
            })
        })
        .collect()
}

fn case(category: &str, q: &Question, turn: &[Value], call: &Map<String, Value>) -> Case {
    let (name, args) = call
        .iter()
        .next()
        .map_or((String::new(), Map::new()), |(n, a)| {
            (n.clone(), a.as_object().cloned().unwrap_or_default())
        });
    let accept = args
        .into_iter()
        .map(|(k, v)| {
            let values: Vec<Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(optional_as_null)
                .collect();
            (k, Value::Array(values))
        })
        .collect();
    Case {
        id: q.id.clone(),
        intent: format!("bfcl-{category}"),
        messages: turn.to_vec(),
        context: None,
        tools: q
            .function
            .iter()
            .map(|f| ToolSpec {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters: schema(&f.parameters),
            })
            .collect(),
        expect: Expect {
            tool: Some(ExpectTool {
                name,
                arguments: Map::new(),
                accept,
                schema: None,
            }),
            ..Expect::default()
        },
    }
}

/// BFCL's `""` ("may be left out") as `null`, inside nested objects too.
fn optional_as_null(v: &Value) -> Value {
    match v {
        Value::String(s) if s.is_empty() => Value::Null,
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Value::Array(
                            v.as_array()
                                .into_iter()
                                .flatten()
                                .map(optional_as_null)
                                .collect(),
                        ),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(optional_as_null).collect()),
        other => other.clone(),
    }
}

/// BFCL's parameter schema as JSON Schema.
pub fn schema(bfcl: &Value) -> Value {
    let Value::Object(map) = bfcl else {
        return bfcl.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "type" => match v.as_str() {
                Some("dict") => json!("object"),
                Some("float") => json!("number"),
                Some("tuple") => json!("array"),
                Some("any") => continue,
                _ => v.clone(),
            },
            "properties" => Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| (name.clone(), schema(p)))
                    .collect(),
            ),
            "items" => schema(v),
            // BFCL's descriptive keys carry no constraint JSON Schema knows.
            "optional" | "format" => continue,
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}
