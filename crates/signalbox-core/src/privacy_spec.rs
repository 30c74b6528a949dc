//! Owns the plain, serde-deserialisable description of a privacy profile, as
//! config files write it, and its one check ([`PrivacySpec::check`]): the
//! config loader runs it to report a bad detector with its path, and
//! `signalbox_privacy::PrivacyProfile::compile` builds its matchers from
//! what it returns, so the two cannot disagree on what is valid.

mod check;
mod class;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use check::{CheckedSpec, NamedClass, PatternClass, SpecError, class_kind};
pub use class::{Action, DataClass};

/// Which data classes are scanned and what happens to each.
///
/// A built-in class absent from `classes` is not scanned at all; `allow`
/// scans and counts it but leaves the value in place.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrivacySpec {
    /// Action per built-in class, e.g. `email: tokenise`, `secret: block`.
    #[serde(default)]
    pub classes: BTreeMap<DataClass, Action>,
    /// How national identifiers are recognised (used when `national-id` is on).
    #[serde(default)]
    pub national_ids: NationalIdSpec,
    /// How secrets are recognised (used when `secret` is on).
    #[serde(default)]
    pub secrets: SecretSpec,
    /// Per-tenant regexes, each its own named class.
    #[serde(default)]
    pub custom: Vec<CustomPatternSpec>,
    /// Per-tenant term lists (customer names, code names), each its own named class.
    #[serde(default)]
    pub dictionaries: Vec<DictionarySpec>,
}

impl PrivacySpec {
    /// A spec with every built-in class on and the same action for all.
    #[must_use]
    pub fn all_builtin(action: Action) -> Self {
        Self {
            classes: DataClass::ALL
                .iter()
                .map(|class| (*class, action))
                .collect(),
            ..Self::default()
        }
    }
}

/// National identifier patterns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NationalIdSpec {
    /// The built-in US Social Security Number detector (`123-45-6789`,
    /// excluding areas 000, 666 and 900–999, group 00 and serial 0000).
    #[serde(default = "default_true")]
    pub us_ssn: bool,
    /// Further per-country patterns, reported as `national-id`.
    #[serde(default)]
    pub patterns: Vec<NationalIdPattern>,
}

impl Default for NationalIdSpec {
    fn default() -> Self {
        Self {
            us_ssn: true,
            patterns: Vec::new(),
        }
    }
}

/// One country's national identifier pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NationalIdPattern {
    /// ISO 3166 country code, for documentation and error paths (`GB`).
    pub country: String,
    /// A regex (Rust `regex` syntax); anchor it with `\b` to avoid partial matches.
    pub regex: String,
}

/// Secret detection knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecretSpec {
    /// High-entropy token detection; `null` turns it off and keeps the
    /// known-prefix detectors (AWS, OpenAI, GitHub, Slack, Google, private keys).
    #[serde(default = "default_entropy")]
    pub entropy: Option<EntropySpec>,
}

impl Default for SecretSpec {
    fn default() -> Self {
        Self {
            entropy: default_entropy(),
        }
    }
}

/// A token of at least `min_len` characters from `[A-Za-z0-9+/_-]`, mixing
/// upper case, lower case and at least two digits, whose Shannon entropy is
/// at least `min_bits_per_char`, is a secret when a credential keyword
/// (`key`, `secret`, `token`, `password`, …) precedes it within 40 bytes.
/// Without a keyword it must also be at least 32 characters long and change
/// character class between at least 45 % of neighbouring characters, which
/// random keys do and identifiers and base64-encoded files do not.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EntropySpec {
    /// Shortest token considered (default 24).
    pub min_len: usize,
    /// Entropy threshold in bits per character (default 4.0).
    pub min_bits_per_char: f64,
}

impl Default for EntropySpec {
    fn default() -> Self {
        Self {
            min_len: 24,
            min_bits_per_char: 4.0,
        }
    }
}

/// A tenant's own regex, reported and tokenised under its own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CustomPatternSpec {
    /// Class name, `a-z0-9_-`; tokens look like `⟦NAME_1⟧`.
    pub name: String,
    /// A regex (Rust `regex` syntax).
    pub regex: String,
    /// What to do with matches.
    pub action: Action,
}

/// A tenant's list of terms, matched case-insensitively (ASCII) on word boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DictionarySpec {
    /// Class name, `a-z0-9_-`; tokens look like `⟦NAME_1⟧`.
    pub name: String,
    /// The terms; blank entries are ignored.
    pub terms: Vec<String>,
    /// What to do with matches.
    pub action: Action,
}

const fn default_true() -> bool {
    true
}

fn default_entropy() -> Option<EntropySpec> {
    Some(EntropySpec::default())
}
