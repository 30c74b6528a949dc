//! Owns the scorers and what they return. Each scorer reads one case's
//! expectations and one answer and returns a [`Verdict`]; a scorer runs
//! only when the case asks for what it checks.

pub mod budget;
pub mod grounded;
pub mod judge;
pub mod refusal;
pub mod structured;
pub mod tools;

use serde::Serialize;

use crate::answer::Answer;
use crate::suite::Case;

/// Which scorer gave a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scorer {
    /// Facts, quotes and unsupported claims against the context.
    Grounded,
    /// Refusal when (and only when) one is expected.
    Refusal,
    /// The expected tool call, valid against its schema.
    ToolCall,
    /// The answer's JSON against its output schema.
    Structured,
    /// Latency and cost within the case's limits.
    Budget,
    /// A judge model's grade against the case's rubric.
    Judge,
}

impl Scorer {
    /// The scorer's name in reports and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Grounded => "grounded",
            Self::Refusal => "refusal",
            Self::ToolCall => "tool-call",
            Self::Structured => "structured",
            Self::Budget => "budget",
            Self::Judge => "judge",
        }
    }
}

/// One scorer's judgement of one answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Which scorer.
    pub scorer: Scorer,
    /// Whether the answer meets the case's expectation.
    pub passed: bool,
    /// A score in 0–1 (1 is best), finer than pass or fail.
    pub value: f64,
    /// Why it failed (or what was doubtful), for reports.
    pub findings: Vec<String>,
}

impl Verdict {
    fn of(scorer: Scorer, value: f64, findings: Vec<String>) -> Self {
        Self {
            scorer,
            passed: findings.is_empty(),
            value,
            findings,
        }
    }
}

/// Every verdict the case asks for, on `answer`; `refusals` decides what
/// counts as a refusal.
pub fn score_case(case: &Case, answer: &Answer, refusals: &refusal::Detector) -> Vec<Verdict> {
    let e = &case.expect;
    let mut out = Vec::new();
    let grounded = !e.facts.is_empty() || !e.quotes.is_empty() || !e.must_not_contain.is_empty();
    if grounded || (case.context.is_some() && e.refusal != Some(true)) {
        out.push(grounded::score(case, answer));
    }
    if let Some(expected) = e.refusal {
        out.push(refusals.score(expected, answer));
    }
    if let Some(tool) = &e.tool {
        out.push(tools::score(case, tool, answer));
    }
    if let Some(schema) = &e.output_schema {
        out.push(structured::score(schema, answer));
    }
    out.extend(budget::score(e, answer));
    out
}
