//! Owns the filters on the identifiers a record shares with everything
//! else ("what changed?" asks by them): alias, provider, model version,
//! prompt version, policy version, intent, degradation step, operator
//! action, tools asked for. Each is a test on a combination (`combo.rs`),
//! run in memory over the few combinations a log has; SQLite then reads
//! only the rows of the combinations that pass.

use crate::combo::Combo;

/// One shared identifier a record must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facet {
    /// The alias the caller asked for.
    Alias(String),
    /// The serving route's provider.
    Provider(String),
    /// The serving route's model version.
    ModelVersion(String),
    /// The registered prompt, `id@version`.
    PromptVersion(String),
    /// The policy version the request was decided under.
    PolicyVersion(String),
    /// The request's intent (its `intent` signal).
    Intent(String),
    /// A degradation step taken (`fallback-route`, `tools-disabled`, …).
    Degraded(String),
    /// An operator action that changed the request (`act-…`).
    OperatorAction(String),
    /// Whether the request asked for tools.
    Tools(bool),
}

impl Facet {
    /// Whether records of combination `c` carry this identifier.
    pub(crate) fn admits(&self, c: &Combo) -> bool {
        let is = |field: &Option<String>, v: &String| field.as_ref() == Some(v);
        match self {
            Self::Alias(v) => is(&c.alias, v),
            Self::Provider(v) => is(&c.provider, v),
            Self::ModelVersion(v) => is(&c.model_version, v),
            Self::PromptVersion(v) => is(&c.prompt_version, v),
            Self::PolicyVersion(v) => c.policy_version == *v,
            Self::Intent(v) => is(&c.intent, v),
            Self::Degraded(step) => c.degraded_by(step),
            Self::OperatorAction(id) => c.changed_by(id),
            Self::Tools(on) => c.tools == Some(*on),
        }
    }
}
