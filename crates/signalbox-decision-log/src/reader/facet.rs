//! Owns the filters on the identifiers a record shares with everything
//! else ("what changed?" asks by them): alias, provider, model version,
//! prompt version, policy version, intent, degradation step, operator
//! action, tools asked for. Each is one SQL condition on the stored record (SQLite's JSON
//! functions), its value always a bound parameter.

use rusqlite::types::Value;

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
    /// The SQL condition, with `?{n}` standing for the value.
    pub(super) fn condition(&self, n: usize) -> String {
        let field = |path: &str| format!("json_extract(record, '$.{path}') = ?{n}");
        let member = |path: &str| {
            format!("EXISTS (SELECT 1 FROM json_each(record, '$.{path}') WHERE value = ?{n})")
        };
        match self {
            Self::Alias(_) => field("alias"),
            Self::Provider(_) => field("provider"),
            Self::ModelVersion(_) => field("model_version"),
            Self::PromptVersion(_) => field("prompt_version"),
            Self::PolicyVersion(_) => format!("policy_version = ?{n}"),
            Self::Intent(_) => format!(
                "EXISTS (SELECT 1 FROM json_each(record, '$.signals') \
                 WHERE json_extract(value, '$.name') = 'intent' \
                 AND json_extract(value, '$.value') = ?{n})"
            ),
            Self::Degraded(_) => member("degraded"),
            Self::OperatorAction(_) => member("operator_actions"),
            Self::Tools(_) => format!(
                "EXISTS (SELECT 1 FROM json_each(record, '$.signals') \
                 WHERE json_extract(value, '$.name') = 'tools' \
                 AND (json_extract(value, '$.value') != 'none') = ?{n})"
            ),
        }
    }

    /// The value bound to the condition.
    pub(super) fn value(&self) -> Value {
        match self {
            Self::Alias(v)
            | Self::Provider(v)
            | Self::ModelVersion(v)
            | Self::PromptVersion(v)
            | Self::PolicyVersion(v)
            | Self::Intent(v)
            | Self::Degraded(v)
            | Self::OperatorAction(v) => Value::Text(v.clone()),
            Self::Tools(on) => Value::Integer(i64::from(*on)),
        }
    }
}
