//! Owns what makes a privacy spec valid: class names, regexes (each alone and
//! all together as one set), dictionary terms and entropy thresholds, with
//! errors naming the spec path. The config loader calls it to report a bad
//! detector at validation; the privacy crate builds its matchers from the
//! compiled result, so nothing is checked in two places.

use regex::{Regex, RegexSet};

use super::{Action, DataClass, PrivacySpec};

/// A privacy spec that cannot be compiled; the message names the offending path.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A custom pattern or national-id pattern is not a valid regex.
    #[error("`{path}`: invalid regex: {source}")]
    Regex {
        /// Where in the spec, e.g. `custom[2].regex`.
        path: String,
        /// The regex compiler's reason.
        #[source]
        source: Box<regex::Error>,
    },
    /// A name is empty, has characters other than `a-z0-9_-`, repeats, or shadows a built-in class.
    #[error("`{path}`: invalid name `{name}`: {reason}")]
    Name {
        /// Where in the spec.
        path: String,
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A dictionary has no usable terms or the matcher could not be built.
    #[error("`{path}`: {reason}")]
    Dictionary {
        /// Where in the spec.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An entropy threshold is out of range.
    #[error("`secrets.entropy`: {0}")]
    Entropy(&'static str),
}

/// The class a tenant regex or term reports under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternClass {
    /// The built-in `national-id` class (a `national-ids.patterns` entry).
    NationalId,
    /// A named class by its index in the profile: built-in classes come
    /// first (`DataClass::ALL.len()` of them), then named ones in spec order.
    Named(u16),
}

/// A custom pattern's or dictionary's class, in spec order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedClass<'s> {
    /// The name as written (report label).
    pub name: &'s str,
    /// What to do with matches.
    pub action: Action,
}

/// The tenant detectors of a valid spec, compiled once.
#[derive(Debug)]
pub struct CheckedSpec<'s> {
    /// Every tenant regex in scan order (national-id patterns, only when that
    /// class is on, then custom patterns), with its class.
    pub patterns: Vec<(Regex, PatternClass)>,
    /// The same regexes as one set, `None` when there are none.
    pub set: Option<RegexSet>,
    /// Named classes: custom patterns, then dictionaries.
    pub named: Vec<NamedClass<'s>>,
    /// Dictionary terms, trimmed and non-blank, with their class.
    pub terms: Vec<(String, PatternClass)>,
}

impl PrivacySpec {
    /// Checks the spec and compiles its regexes; errors name the spec path.
    pub fn check(&self) -> Result<CheckedSpec<'_>, SpecError> {
        let mut out = CheckedSpec {
            patterns: Vec::new(),
            set: None,
            named: Vec::new(),
            terms: Vec::new(),
        };
        if self.classes.contains_key(&DataClass::NationalId) {
            for (i, p) in self.national_ids.patterns.iter().enumerate() {
                let re = regex(&p.regex, || format!("national-ids.patterns[{i}].regex"))?;
                out.patterns.push((re, PatternClass::NationalId));
            }
        }
        for (i, custom) in self.custom.iter().enumerate() {
            let path = || format!("custom[{i}].name");
            let class = add_class(&mut out.named, &custom.name, custom.action, path)?;
            let re = regex(&custom.regex, || format!("custom[{i}].regex"))?;
            out.patterns.push((re, class));
        }
        for (i, dict) in self.dictionaries.iter().enumerate() {
            let path = || format!("dictionaries[{i}].name");
            let class = add_class(&mut out.named, &dict.name, dict.action, path)?;
            let before = out.terms.len();
            out.terms.extend(
                dict.terms
                    .iter()
                    .map(|t| t.trim())
                    .filter(|t| !t.is_empty())
                    .map(|t| (t.to_owned(), class)),
            );
            if out.terms.len() == before {
                return Err(SpecError::Dictionary {
                    path: format!("dictionaries[{i}].terms"),
                    reason: "no terms".to_owned(),
                });
            }
        }
        if !out.patterns.is_empty() {
            let set = RegexSet::new(out.patterns.iter().map(|(re, _)| re.as_str())).map_err(
                |source| SpecError::Regex {
                    path: "custom".to_owned(),
                    source: Box::new(source),
                },
            )?;
            out.set = Some(set);
        }
        check_entropy(self)?;
        Ok(out)
    }
}

fn check_entropy(spec: &PrivacySpec) -> Result<(), SpecError> {
    let Some(e) = spec.secrets.entropy else {
        return Ok(());
    };
    if e.min_len < 8 {
        return Err(SpecError::Entropy("min-len must be at least 8"));
    }
    if !(1.0..=8.0).contains(&e.min_bits_per_char) {
        return Err(SpecError::Entropy(
            "min-bits-per-char must be between 1 and 8",
        ));
    }
    Ok(())
}

/// Adds a named class after checking its name.
fn add_class<'s>(
    named: &mut Vec<NamedClass<'s>>,
    name: &'s str,
    action: Action,
    path: impl Fn() -> String,
) -> Result<PatternClass, SpecError> {
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
        .any(|c| class_kind(c.label()) == class_kind(name))
    {
        return Err(reject("shadows a built-in class"));
    }
    if named.iter().any(|n| class_kind(n.name) == class_kind(name)) {
        return Err(reject("used twice"));
    }
    let index = u16::try_from(DataClass::ALL.len() + named.len())
        .map_err(|_| reject("too many classes"))?;
    named.push(NamedClass { name, action });
    Ok(PatternClass::Named(index))
}

/// A class's token kind and placeholder suffix: `national-id` → `NATIONAL_ID`.
#[must_use]
pub fn class_kind(name: &str) -> String {
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
