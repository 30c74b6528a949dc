//! Owns the compiled profile: built once from a `PrivacySpec` at config load,
//! then shared read-only by every request. It finds sensitive spans and
//! applies each class's action to a text.

use signalbox_core::privacy_spec::class_kind;

use crate::detect::{ClassId, Detectors, DictionaryDetector, Finding, RegexDetector};
use crate::error::Blocked;
use crate::report::ProtectReport;
use crate::restore::Escape;
use crate::token::TokenTable;
use crate::{Action, DataClass, PrivacySpec, SpecError};

/// One class as the profile knows it.
#[derive(Debug, Clone)]
struct ClassInfo {
    /// Report label: `email`, `national-id`, or the custom name.
    label: String,
    /// Token kind and placeholder suffix: `EMAIL`, `NATIONAL_ID`, `PROJECT_CODE`.
    kind: String,
    /// What to do with findings; `None` when the class is off.
    action: Option<Action>,
}

/// The compiled detectors and actions of one privacy spec.
pub struct PrivacyProfile {
    detectors: Detectors,
    classes: Vec<ClassInfo>,
}

impl std::fmt::Debug for PrivacyProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacyProfile")
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

impl PrivacyProfile {
    /// Validates and compiles a spec (`PrivacySpec::check`, then the
    /// matchers). Errors name the spec path.
    pub fn compile(spec: &PrivacySpec) -> Result<Self, SpecError> {
        let checked = spec.check()?;
        let mut classes: Vec<ClassInfo> = builtin_classes(spec);
        let mut on = [false; ClassId::BUILTIN_COUNT];
        for (slot, info) in on.iter_mut().zip(&classes) {
            *slot = info.action.is_some();
        }
        classes.extend(checked.named.iter().map(|n| ClassInfo {
            label: n.name.to_owned(),
            kind: class_kind(n.name),
            action: Some(n.action),
        }));
        let regexes = checked.set.map(|set| {
            let patterns = checked.patterns.into_iter();
            RegexDetector::new(set, patterns.map(|(re, c)| (re, ClassId::of(c))).collect())
        });
        let dictionaries = if checked.terms.is_empty() {
            None
        } else {
            let terms = checked.terms.into_iter();
            let terms = terms.map(|(t, c)| (t, ClassId::of(c))).collect();
            Some(
                DictionaryDetector::new(terms).map_err(|e| SpecError::Dictionary {
                    path: "dictionaries".to_owned(),
                    reason: e.to_string(),
                })?,
            )
        };
        Ok(Self {
            detectors: Detectors {
                on,
                us_ssn: spec.national_ids.us_ssn,
                entropy: spec.secrets.entropy,
                regexes,
                dictionaries,
            },
            classes,
        })
    }

    /// Whether the profile scans nothing (every class off, no custom classes).
    #[must_use]
    pub fn is_inert(&self) -> bool {
        self.classes.iter().all(|c| c.action.is_none())
    }

    /// Non-overlapping findings in `text`, in order.
    #[must_use]
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        self.detectors.scan(text, &mut out);
        out
    }

    /// Like `find`, reusing `out`'s allocation.
    pub fn find_into(&self, text: &str, out: &mut Vec<Finding>) {
        self.detectors.scan(text, out);
    }

    /// The report label of a class (`email`, `national-id`, a custom name).
    #[must_use]
    pub fn label(&self, class: ClassId) -> &str {
        self.classes
            .get(class.index())
            .map_or("unknown", |c| c.label.as_str())
    }

    /// The action configured for a class (`Allow` for unknown ids).
    #[must_use]
    pub fn action(&self, class: ClassId) -> Action {
        self.classes
            .get(class.index())
            .and_then(|c| c.action)
            .unwrap_or(Action::Allow)
    }

    /// Protects one text: `Ok(None)` when nothing changes, `Ok(Some(new))`
    /// otherwise, `Err` when a `block` class is present (then the table is untouched).
    pub fn protect_text(
        &self,
        text: &str,
        table: &mut TokenTable,
        report: &mut ProtectReport,
    ) -> Result<Option<String>, Blocked> {
        let findings = self.scan_all([text], report)?;
        let found = findings.first().map_or(&[][..], Vec::as_slice);
        Ok(self.apply(text, found, Escape::None, Some(table)))
    }

    /// Finds and counts in every text before anything changes; `Err` when a
    /// `block` class is present anywhere.
    pub(crate) fn scan_all<'t>(
        &self,
        texts: impl IntoIterator<Item = &'t str>,
        report: &mut ProtectReport,
    ) -> Result<Vec<Vec<Finding>>, Blocked> {
        let mut blocked: Vec<String> = Vec::new();
        let mut all = Vec::new();
        for text in texts {
            let findings = self.find(text);
            for finding in &findings {
                let (label, action) = (self.label(finding.class), self.action(finding.class));
                report.record(label, action);
                if action == Action::Block && !blocked.iter().any(|b| b == label) {
                    blocked.push(label.to_owned());
                }
            }
            report.texts += 1;
            report.bytes += text.len() as u64;
            all.push(findings);
        }
        if blocked.is_empty() {
            return Ok(all);
        }
        blocked.sort_unstable();
        Err(Blocked {
            classes: blocked,
            report: report.clone(),
        })
    }

    /// Rewrites `text` with redactions and tokens; `None` when nothing changes.
    /// Values found inside JSON-string text are stored decoded, so they can
    /// be restored into plain text as well as re-escaped into JSON. Without
    /// a `table` (nothing will be restored), `tokenise` classes are redacted.
    pub(crate) fn apply(
        &self,
        text: &str,
        findings: &[Finding],
        escape: Escape,
        mut table: Option<&mut TokenTable>,
    ) -> Option<String> {
        let mut out = String::new();
        let mut copied = 0;
        for finding in findings {
            let Some(info) = self.classes.get(finding.class.index()) else {
                continue;
            };
            let Some(value) = text.get(finding.start..finding.end) else {
                continue;
            };
            let replacement = match (info.action, table.as_deref_mut()) {
                (Some(Action::Redact), _) | (Some(Action::Tokenise), None) => {
                    format!("[REDACTED_{}]", info.kind)
                }
                (Some(Action::Tokenise), Some(table)) => table
                    .tokenise(&info.kind, &decoded(value, escape))
                    .to_owned(),
                (Some(Action::Block | Action::Allow) | None, _) => continue,
            };
            if out.is_empty() {
                out.reserve(text.len() + 16);
            }
            out.push_str(&text[copied..finding.start]);
            out.push_str(&replacement);
            copied = finding.end;
        }
        if copied == 0 {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

/// A value as the application wrote it: JSON-string escapes undone.
fn decoded(value: &str, escape: Escape) -> std::borrow::Cow<'_, str> {
    if escape == Escape::JsonString
        && value.contains('\\')
        && let Ok(plain) = serde_json::from_str::<String>(&format!("\"{value}\""))
    {
        return plain.into();
    }
    value.into()
}

fn builtin_classes(spec: &PrivacySpec) -> Vec<ClassInfo> {
    let mut classes = vec![
        ClassInfo {
            label: String::new(),
            kind: String::new(),
            action: None,
        };
        ClassId::BUILTIN_COUNT
    ];
    for class in DataClass::ALL {
        if let Some(info) = classes.get_mut(ClassId::builtin(class).index()) {
            info.label = class.label().to_owned();
            info.kind = class_kind(class.label());
            info.action = spec.classes.get(&class).copied();
        }
    }
    classes
}

#[cfg(test)]
mod tests;
