//! Owns the compiled profile: built once from a `PrivacySpec` at config load,
//! then shared read-only by every request. It finds sensitive spans and
//! applies each class's action to a text.

use regex::Regex;

use crate::class::{Action, DataClass};
use crate::detect::{ClassId, Detectors, DictionaryDetector, Finding, RegexDetector};
use crate::error::{Blocked, SpecError};
use crate::report::ProtectReport;
use crate::restore::Escape;
use crate::spec::PrivacySpec;
use crate::token::TokenTable;

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
    /// Validates and compiles a spec. Errors name the spec path.
    pub fn compile(spec: &PrivacySpec) -> Result<Self, SpecError> {
        let mut classes: Vec<ClassInfo> = builtin_classes(spec);
        let mut on = [false; ClassId::BUILTIN_COUNT];
        for (slot, info) in on.iter_mut().zip(&classes) {
            *slot = info.action.is_some();
        }
        let national_id = ClassId::builtin(DataClass::NationalId);
        let mut patterns = Vec::new();
        if on[national_id.index()] {
            for (i, p) in spec.national_ids.patterns.iter().enumerate() {
                patterns.push((
                    regex(&p.regex, || format!("national-ids.patterns[{i}].regex"))?,
                    national_id,
                ));
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, custom) in spec.custom.iter().enumerate() {
            let path = || format!("custom[{i}].name");
            let class = add_class(&mut classes, &mut names, &custom.name, custom.action, path)?;
            patterns.push((
                regex(&custom.regex, || format!("custom[{i}].regex"))?,
                class,
            ));
        }
        let mut terms = Vec::new();
        for (i, dict) in spec.dictionaries.iter().enumerate() {
            let path = || format!("dictionaries[{i}].name");
            let class = add_class(&mut classes, &mut names, &dict.name, dict.action, path)?;
            let before = terms.len();
            terms.extend(
                dict.terms
                    .iter()
                    .map(|t| t.trim())
                    .filter(|t| !t.is_empty())
                    .map(|t| (t.to_owned(), class)),
            );
            if terms.len() == before {
                return Err(SpecError::Dictionary {
                    path: format!("dictionaries[{i}].terms"),
                    reason: "no terms".to_owned(),
                });
            }
        }
        let regexes = if patterns.is_empty() {
            None
        } else {
            Some(
                RegexDetector::new(patterns).map_err(|source| SpecError::Regex {
                    path: "custom".to_owned(),
                    source: Box::new(source),
                })?,
            )
        };
        let dictionaries = if terms.is_empty() {
            None
        } else {
            Some(
                DictionaryDetector::new(terms).map_err(|e| SpecError::Dictionary {
                    path: "dictionaries".to_owned(),
                    reason: e.to_string(),
                })?,
            )
        };
        let entropy = spec.secrets.entropy;
        if let Some(e) = entropy {
            if e.min_len < 8 {
                return Err(SpecError::Entropy("min-len must be at least 8"));
            }
            if !(1.0..=8.0).contains(&e.min_bits_per_char) {
                return Err(SpecError::Entropy(
                    "min-bits-per-char must be between 1 and 8",
                ));
            }
        }
        Ok(Self {
            detectors: Detectors {
                on,
                us_ssn: spec.national_ids.us_ssn,
                entropy,
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
        Ok(self.apply(text, found, Escape::None, table))
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
    /// be restored into plain text as well as re-escaped into JSON.
    pub(crate) fn apply(
        &self,
        text: &str,
        findings: &[Finding],
        escape: Escape,
        table: &mut TokenTable,
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
            let replacement = match info.action {
                Some(Action::Redact) => format!("[REDACTED_{}]", info.kind),
                Some(Action::Tokenise) => table
                    .tokenise(&info.kind, &decoded(value, escape))
                    .to_owned(),
                Some(Action::Block | Action::Allow) | None => continue,
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
            info.kind = kind_of(class.label());
            info.action = spec.classes.get(&class).copied();
        }
    }
    classes
}

/// Adds a custom class after checking its name.
fn add_class<'s>(
    classes: &mut Vec<ClassInfo>,
    names: &mut Vec<&'s str>,
    name: &'s str,
    action: Action,
    path: impl Fn() -> String,
) -> Result<ClassId, SpecError> {
    let reject = |reason| SpecError::Name {
        path: path(),
        name: name.to_owned(),
        reason,
    };
    let shaped = name.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 32
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
    if !shaped {
        return Err(reject(
            "use 1-32 characters a-z, 0-9, `_` or `-`, starting with a letter",
        ));
    }
    if DataClass::ALL
        .iter()
        .any(|c| kind_of(c.label()) == kind_of(name))
    {
        return Err(reject("shadows a built-in class"));
    }
    if names.iter().any(|n| kind_of(n) == kind_of(name)) {
        return Err(reject("used twice"));
    }
    let id = ClassId::from_index(classes.len()).ok_or_else(|| reject("too many classes"))?;
    names.push(name);
    classes.push(ClassInfo {
        label: name.to_owned(),
        kind: kind_of(name),
        action: Some(action),
    });
    Ok(id)
}

/// `national-id` → `NATIONAL_ID`.
fn kind_of(name: &str) -> String {
    name.bytes()
        .map(|c| {
            if c == b'-' {
                '_'
            } else {
                char::from(c.to_ascii_uppercase())
            }
        })
        .collect()
}

fn regex(pattern: &str, path: impl Fn() -> String) -> Result<Regex, SpecError> {
    Regex::new(pattern).map_err(|source| SpecError::Regex {
        path: path(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests;
