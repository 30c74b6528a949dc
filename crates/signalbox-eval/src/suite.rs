//! Owns evaluation suites: their file formats (YAML, or JSONL with one
//! case a line), their validation (errors name the field's path, like the
//! config's), and their JSON Schema for editors.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// A suite of cases for critical intents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The suite's name (reports and records use it).
    pub suite: String,
    /// What the suite protects.
    #[serde(default)]
    pub description: Option<String>,
    /// Regular expressions (case-insensitive) that mark an answer as a
    /// refusal; the built-in list when absent.
    #[serde(default)]
    pub refusal_patterns: Option<Vec<String>>,
    /// The data classes its cases carry (privacy class names: `email`,
    /// `card`, … or a custom class's name): scheduled runs send the suite
    /// only to routes where each may go as written.
    #[serde(default)]
    pub data_classes: Vec<String>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One case: a conversation for an intent, and what its answer must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique within the suite.
    pub id: String,
    /// The critical intent the case stands for.
    pub intent: String,
    /// The conversation, as OpenAI chat messages.
    pub messages: Vec<Value>,
    /// Grounding context the answer must stay within (also sent).
    #[serde(default)]
    pub context: Option<String>,
    /// Tools offered, as `{name, description, parameters}`.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// What the answer must do.
    pub expect: Expect,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    #[serde(default = "empty_object")]
    pub parameters: Value,
}

fn empty_object() -> Value {
    serde_json::json!({"type": "object"})
}

/// What an answer to a case must do; only what is given is scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Facts the answer must state (case- and spacing-insensitive).
    #[serde(default)]
    pub facts: Vec<String>,
    /// Spans of the context the answer must quote verbatim.
    #[serde(default)]
    pub quotes: Vec<String>,
    /// Text the answer must not contain (case-insensitive).
    #[serde(default)]
    pub must_not_contain: Vec<String>,
    /// Whether the answer must be a refusal.
    #[serde(default)]
    pub refusal: Option<bool>,
    /// The tool call the answer must make.
    #[serde(default)]
    pub tool: Option<ExpectTool>,
    /// JSON Schema the answer's text (JSON) must match.
    #[serde(default)]
    pub output_schema: Option<Value>,
    /// Most milliseconds the answer may take (checked from the record).
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    /// Most US dollars the answer may cost (checked from the record).
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
    /// A rubric a judge model grades the answer by (run only when the
    /// runner is given a judge alias).
    #[serde(default)]
    pub judge: Option<crate::score::judge::ExpectJudge>,
}

/// The tool call a case expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectTool {
    /// The tool's name.
    pub name: String,
    /// Argument values that must match exactly (other arguments may vary).
    #[serde(default)]
    pub arguments: Map<String, Value>,
    /// Arguments whose value must be one of a list (numbers compared as
    /// numbers); a `null` in the list means the argument may be left out.
    /// Within an object alternative each field is again a list of
    /// acceptable values (BFCL's possible answers are written so).
    #[serde(default)]
    pub accept: Map<String, Value>,
    /// JSON Schema the arguments must match; the tool's `parameters` when absent.
    #[serde(default)]
    pub schema: Option<Value>,
}

impl Case {
    /// The case as an OpenAI chat-completions body for `model`: its
    /// context as a system message first, its tools, its output schema as
    /// `response_format`, temperature 0.
    pub fn chat_body(&self, model: &str) -> Value {
        let mut messages = Vec::with_capacity(self.messages.len() + 1);
        if let Some(context) = &self.context {
            messages.push(
                serde_json::json!({"role": "system", "content": format!("Context:\n{context}")}),
            );
        }
        messages.extend(self.messages.iter().cloned());
        let mut body =
            serde_json::json!({ "model": model, "messages": messages, "temperature": 0 });
        if !self.tools.is_empty() {
            let tools: Vec<Value> = self
                .tools
                .iter()
                .map(|t| {
                    serde_json::json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
            body["tools"] = Value::Array(tools);
        }
        if let Some(schema) = &self.expect.output_schema {
            body["response_format"] = serde_json::json!({"type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema}});
        }
        body
    }
}

/// Why a suite file was refused; the message names the field.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SuiteError {
    /// The file is not the format it claims.
    #[error("{0}")]
    Syntax(String),
    /// A field is wrong.
    #[error("{path}: {problem}")]
    Invalid {
        /// The field's path, e.g. `cases[2].expect.tool.name`.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Suite {
    /// The critical intents its cases stand for, each once, in order.
    pub fn intents(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for c in &self.cases {
            if !seen.contains(&c.intent.as_str()) {
                seen.push(&c.intent);
            }
        }
        seen
    }

    /// Reads and validates a YAML suite.
    pub fn from_yaml(text: &str) -> Result<Self, SuiteError> {
        let de = yaml_serde::Deserializer::from_str(text);
        let suite: Suite = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            SuiteError::Invalid {
                path,
                problem: e.into_inner().to_string(),
            }
        })?;
        suite.validate()?;
        Ok(suite)
    }

    /// Reads and validates the text of the suite file at `path`: JSONL
    /// (named by the file's stem) when it ends in `.jsonl`, else YAML.
    pub fn from_file_text(path: &std::path::Path, text: &str) -> Result<Self, SuiteError> {
        if path.extension().is_some_and(|e| e == "jsonl") {
            let name = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Self::from_jsonl(&name, text)
        } else {
            Self::from_yaml(text)
        }
    }

    /// Reads and validates a JSONL suite named `name`: one case a line
    /// (blank lines and `#` comments skipped).
    pub fn from_jsonl(name: &str, text: &str) -> Result<Self, SuiteError> {
        let mut cases = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut de = serde_json::Deserializer::from_str(line);
            let case: Case =
                serde_path_to_error::deserialize(&mut de).map_err(|e| SuiteError::Invalid {
                    path: format!("line {}: {}", i + 1, e.path()),
                    problem: e.into_inner().to_string(),
                })?;
            cases.push(case);
        }
        let suite = Suite {
            suite: name.to_owned(),
            description: None,
            refusal_patterns: None,
            data_classes: Vec::new(),
            cases,
        };
        suite.validate()?;
        Ok(suite)
    }

    /// Checks what types cannot say (run by the readers; public for suites
    /// built in code, such as imports): unique ids, at least one expectation a case,
    /// an expected tool among the case's tools, schemas and patterns that
    /// compile.
    pub fn validate(&self) -> Result<(), SuiteError> {
        if self.cases.is_empty() {
            return Err(invalid("cases", "must not be empty"));
        }
        for (i, p) in self.refusal_patterns.iter().flatten().enumerate() {
            regex::Regex::new(p)
                .map_err(|e| invalid(&format!("refusal_patterns[{i}]"), &e.to_string()))?;
        }
        for (i, class) in self.data_classes.iter().enumerate() {
            if class.trim().is_empty() {
                return Err(invalid(&format!("data_classes[{i}]"), "must not be empty"));
            }
        }
        let mut ids = HashSet::new();
        for (i, case) in self.cases.iter().enumerate() {
            let at = format!("cases[{i}]");
            if !ids.insert(case.id.as_str()) {
                return Err(invalid(
                    &format!("{at}.id"),
                    &format!("`{}` is used twice", case.id),
                ));
            }
            if case.messages.is_empty() {
                return Err(invalid(&format!("{at}.messages"), "must not be empty"));
            }
            case.expect.validate(&at, case)?;
        }
        Ok(())
    }
}

impl Expect {
    fn validate(&self, at: &str, case: &Case) -> Result<(), SuiteError> {
        let any = !self.facts.is_empty()
            || !self.quotes.is_empty()
            || !self.must_not_contain.is_empty()
            || self.refusal.is_some()
            || self.tool.is_some()
            || self.output_schema.is_some()
            || self.max_latency_ms.is_some()
            || self.max_cost_usd.is_some()
            || self.judge.is_some();
        if !any {
            return Err(invalid(&format!("{at}.expect"), "says nothing to check"));
        }
        if !self.quotes.is_empty() && case.context.is_none() {
            return Err(invalid(
                &format!("{at}.expect.quotes"),
                "need a `context` to quote",
            ));
        }
        if let Some(tool) = &self.tool {
            if !case.tools.iter().any(|t| t.name == tool.name) {
                return Err(invalid(
                    &format!("{at}.expect.tool.name"),
                    &format!("`{}` is not one of the case's tools", tool.name),
                ));
            }
            if let Some(schema) = &tool.schema {
                compiles(schema, &format!("{at}.expect.tool.schema"))?;
            }
        }
        for (j, t) in case.tools.iter().enumerate() {
            compiles(&t.parameters, &format!("{at}.tools[{j}].parameters"))?;
        }
        if let Some(schema) = &self.output_schema {
            compiles(schema, &format!("{at}.expect.output_schema"))?;
        }
        if let Some(j) = &self.judge {
            if j.rubric.trim().is_empty() {
                return Err(invalid(
                    &format!("{at}.expect.judge.rubric"),
                    "must not be empty",
                ));
            }
            if !(0.0..=1.0).contains(&j.min) {
                return Err(invalid(
                    &format!("{at}.expect.judge.min"),
                    "must be between 0 and 1",
                ));
            }
        }
        Ok(())
    }
}

fn compiles(schema: &Value, path: &str) -> Result<(), SuiteError> {
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|e| invalid(path, &format!("is not a valid JSON Schema: {e}")))
}

fn invalid(path: &str, problem: &str) -> SuiteError {
    SuiteError::Invalid {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }
}

/// The suites' JSON Schema, for editors.
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Suite)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
