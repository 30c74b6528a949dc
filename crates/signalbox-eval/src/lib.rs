//! Owns the quality half of routing's evidence: evaluation suites of
//! critical intents (files an operator reviews like the config, validated
//! with paths, with a JSON Schema), and the deterministic scorers that
//! judge one answer to one case offline:
//!
//! - [`score::grounded`]: required facts and quotes present, numbers and
//!   named entities not in the grounding context counted as unsupported;
//! - [`score::refusal`]: refusal detected by configurable patterns, over-
//!   and under-refusal told apart;
//! - [`score::tools`]: the expected tool called, its arguments JSON that
//!   validates against the tool's schema, declared values matching;
//! - [`score::structured`]: the answer parses and matches its output schema.
//!
//! Each scorer returns a [`Verdict`]: pass or fail, a value in 0–1, and
//! findings that say why, for the report and the record. Latency and cost
//! come from the decision record, not from here. Nothing in this crate
//! does I/O: the runner that sends cases through routes lives elsewhere.

pub mod answer;
pub mod bfcl;
pub mod score;
pub mod suite;

pub use answer::{Answer, ToolCall};
pub use score::{Scorer, Verdict, score_case};
pub use suite::{Case, Expect, Suite, SuiteError};
