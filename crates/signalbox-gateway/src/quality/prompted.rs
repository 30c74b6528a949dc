//! Owns a suite's registered prompt version in scheduled runs
//! (`quality.suites[].prompt`): the version's wording for the route's
//! provider family (its variant, else the default template), rendered
//! with the suite's variables and put first in every case as the system
//! message, as the gateway puts a registered prompt in front of a
//! client's request. Its `id@version` is the scores' prompt version.

use serde_json::{Value, json};
use signalbox_config::{Config, PromptVersion, SuitePrompt};

/// A suite's prompt version, resolved at load.
#[derive(Debug)]
pub(crate) struct ScheduledPrompt {
    label: String,
    version: PromptVersion,
    values: Vec<(String, String)>,
}

impl ScheduledPrompt {
    /// Resolves `p` (validated with the configuration) in `cfg`.
    pub(crate) fn of(cfg: &Config, p: &SuitePrompt) -> Option<Self> {
        let version = cfg.prompts.get(p.prompt)?.versions.get(p.version)?.clone();
        Some(Self {
            label: p.label.clone(),
            version,
            values: p.values.clone(),
        })
    }

    /// `id@version`.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Puts the wording for `family` first in `body`'s messages.
    pub(crate) fn apply(&self, family: &str, body: &mut Value) {
        let (template, _) = self.version.for_family(family);
        let lookup = |name: &str| {
            self.values
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(text) = template.render(lookup) else {
            return;
        };
        if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
            messages.insert(0, json!({"role": "system", "content": text}));
        }
    }
}
