//! Owns the tenant-configured detectors: regexes (national-id patterns and
//! custom classes) and dictionaries of terms.
//!
//! All regexes go into one `RegexSet`, so text that matches none of them
//! costs a single pass; only patterns that matched are then run to find
//! positions. All dictionary terms go into one Aho-Corasick automaton
//! (ASCII case-insensitive, leftmost-longest), and a match counts only on
//! word boundaries.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexSet};

use super::ClassId;
use super::bytes::is_word;

/// Tenant regexes, each reporting under its class.
pub(crate) struct RegexDetector {
    set: RegexSet,
    patterns: Vec<(Regex, ClassId)>,
}

impl RegexDetector {
    /// Builds from a spec's checked regexes and their set (`PrivacySpec::check`
    /// compiled both, so errors were reported with paths there).
    pub(crate) const fn new(set: RegexSet, patterns: Vec<(Regex, ClassId)>) -> Self {
        Self { set, patterns }
    }

    pub(crate) fn scan(&self, text: &str, out: &mut impl FnMut(usize, usize, ClassId)) {
        for index in self.set.matches(text).iter() {
            let Some((re, class)) = self.patterns.get(index) else {
                continue;
            };
            for m in re.find_iter(text).filter(|m| !m.is_empty()) {
                out(m.start(), m.end(), *class);
            }
        }
    }
}

/// Tenant term lists, each reporting under its class.
pub(crate) struct DictionaryDetector {
    automaton: AhoCorasick,
    /// Class of each pattern, by pattern id.
    classes: Vec<ClassId>,
}

impl DictionaryDetector {
    pub(crate) fn new(terms: Vec<(String, ClassId)>) -> Result<Self, aho_corasick::BuildError> {
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(terms.iter().map(|(term, _)| term))?;
        Ok(Self {
            automaton,
            classes: terms.into_iter().map(|(_, class)| class).collect(),
        })
    }

    pub(crate) fn scan(&self, text: &str, out: &mut impl FnMut(usize, usize, ClassId)) {
        let b = text.as_bytes();
        for m in self.automaton.find_iter(text) {
            let before = m.start().checked_sub(1).and_then(|p| b.get(p));
            let bounded =
                before.is_none_or(|c| !is_word(*c)) && b.get(m.end()).is_none_or(|c| !is_word(*c));
            if let (true, Some(class)) = (bounded, self.classes.get(m.pattern().as_usize())) {
                out(m.start(), m.end(), *class);
            }
        }
    }
}
