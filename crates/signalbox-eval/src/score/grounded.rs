//! Owns groundedness: an answer states the facts a case requires, quotes
//! the context verbatim where asked, says nothing it must not, and makes
//! no claim the context does not support. Claims are approximated by what
//! can be checked without a model: numbers, and capitalised names that do
//! not begin a sentence; each one absent from the context (and from the
//! conversation) is unsupported. The value is the share of such claims
//! that are supported, lowered by each missing fact or quote.

use std::sync::LazyLock;

use regex::Regex;

use super::{Scorer, Verdict};
use crate::answer::Answer;
use crate::suite::Case;

static NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\d+(?:[.,:/]\d+)*%?").ok());
static NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b[A-Z][a-zA-Z]+(?:[ -][A-Z][a-zA-Z]+)*\b").ok());

/// Words that are capitalised for grammar, not because they name something.
const COMMON: [&str; 24] = [
    "I", "The", "A", "An", "This", "That", "These", "Those", "It", "We", "You", "Your", "Our",
    "Yes", "No", "Please", "If", "In", "For", "To", "And", "But", "Note", "However",
];

/// Scores `answer` against `case`'s facts, quotes, forbidden text and context.
pub fn score(case: &Case, answer: &Answer) -> Verdict {
    let text = answer.text.as_str();
    let folded = fold(text);
    let e = &case.expect;
    let mut findings = Vec::new();
    for fact in &e.facts {
        if !folded.contains(&fold(fact)) {
            findings.push(format!("fact missing: {fact:?}"));
        }
    }
    for quote in &e.quotes {
        if !text.contains(quote.as_str()) {
            findings.push(format!("quote not verbatim: {quote:?}"));
        }
    }
    for bad in &e.must_not_contain {
        if folded.contains(&fold(bad)) {
            findings.push(format!("says what it must not: {bad:?}"));
        }
    }
    let (claims, unsupported) = match &case.context {
        Some(context) => unsupported_claims(case, context, text),
        None => (0, Vec::new()),
    };
    for claim in &unsupported {
        findings.push(format!("unsupported by the context: {claim:?}"));
    }
    let supported = if claims == 0 {
        1.0
    } else {
        (claims - unsupported.len()) as f64 / claims as f64
    };
    let expected = e.facts.len() + e.quotes.len() + e.must_not_contain.len();
    let met = expected.saturating_sub(findings.len() - unsupported.len());
    let coverage = if expected == 0 {
        1.0
    } else {
        met as f64 / expected as f64
    };
    Verdict::of(Scorer::Grounded, supported * coverage, findings)
}

/// The number of checkable claims in `text`, and those neither the context
/// nor the conversation contains.
fn unsupported_claims(case: &Case, context: &str, text: &str) -> (usize, Vec<String>) {
    let mut known = fold(context);
    for m in &case.messages {
        known.push(' ');
        known.push_str(&fold(&m.to_string()));
    }
    let mut claims = 0;
    let mut unsupported = Vec::new();
    let numbers = NUMBER
        .as_ref()
        .map(|r| r.find_iter(text).map(|m| m.as_str()).collect::<Vec<_>>());
    for n in numbers.unwrap_or_default() {
        claims += 1;
        if !known.contains(n) {
            unsupported.push(n.to_owned());
        }
    }
    for name in names(text) {
        claims += 1;
        if !known.contains(&fold(&name)) {
            unsupported.push(name);
        }
    }
    (claims, unsupported)
}

/// Capitalised names that do not begin a sentence and are not grammar.
fn names(text: &str) -> Vec<String> {
    let Some(re) = NAME.as_ref() else {
        return Vec::new();
    };
    re.find_iter(text)
        .filter(|m| !begins_sentence(text, m.start()))
        .map(|m| m.as_str().to_owned())
        .filter(|n| !COMMON.contains(&n.as_str()))
        .collect()
}

fn begins_sentence(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end();
    before.is_empty() || before.ends_with(['.', '!', '?', ':', '\n', '"', '(', '*', '-'])
}

/// Lower case with runs of whitespace as one space.
fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
