//! Owns the token format and the per-session token table.
//!
//! A token is `⟦KIND_N⟧`: U+27E6, an upper-case kind (`EMAIL`, `NATIONAL_ID`,
//! or a custom class name), an underscore, a decimal counter starting at 1
//! per kind, and U+27E7. The brackets almost never occur in real text, they
//! survive tokenisers as single symbols, and models copy them verbatim. The
//! table maps each value to one token for the whole session, so the model
//! can reason about "the same e-mail" across turns.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Opening bracket of a token (U+27E6).
pub const TOKEN_OPEN: &str = "\u{27E6}";
/// Closing bracket of a token (U+27E7).
pub const TOKEN_CLOSE: &str = "\u{27E7}";
/// Longest token body accepted between the brackets.
pub(crate) const MAX_BODY: usize = 48;
/// Longest token in bytes, brackets included: the most a stream restorer holds back.
pub const MAX_TOKEN_LEN: usize = TOKEN_OPEN.len() + MAX_BODY + TOKEN_CLOSE.len();

/// One token and the original value it stands for, as a vault stores it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// The token, brackets included.
    pub token: String,
    /// The original text.
    pub value: String,
}

impl fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEntry")
            .field("token", &self.token)
            .field("value", &"<hidden>")
            .finish()
    }
}

/// The tokens of one session: value → token, token → value, and what is new
/// since the table was loaded from the vault.
#[derive(Default)]
pub struct TokenTable {
    by_value: HashMap<String, String>,
    by_token: HashMap<String, String>,
    last_index: HashMap<String, u32>,
    fresh: Vec<TokenEntry>,
}

impl fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenTable")
            .field("tokens", &self.by_token.len())
            .field("fresh", &self.fresh.len())
            .finish()
    }
}

impl TokenTable {
    /// An empty table (a new session).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A table holding a session's existing tokens, as loaded from a vault.
    /// Entries whose token is not well formed are skipped.
    #[must_use]
    pub fn from_entries(entries: impl IntoIterator<Item = TokenEntry>) -> Self {
        let mut table = Self::new();
        for TokenEntry { token, value } in entries {
            let Some((kind, index)) = split_token(&token) else {
                continue;
            };
            let last = table.last_index.entry(kind.to_owned()).or_default();
            *last = (*last).max(index);
            table.by_value.insert(value.clone(), token.clone());
            table.by_token.insert(token, value);
        }
        table
    }

    /// The token for `value`, creating `⟦KIND_N⟧` on first sight.
    pub fn tokenise(&mut self, kind: &str, value: &str) -> &str {
        if !self.by_value.contains_key(value) {
            let last = self.last_index.entry(kind.to_owned()).or_default();
            *last += 1;
            let token = format!("{TOKEN_OPEN}{kind}_{last}{TOKEN_CLOSE}");
            self.by_token.insert(token.clone(), value.to_owned());
            self.fresh.push(TokenEntry {
                token: token.clone(),
                value: value.to_owned(),
            });
            self.by_value.insert(value.to_owned(), token);
        }
        self.by_value.get(value).map_or("", String::as_str)
    }

    /// The original value of a token, if this session issued it.
    #[must_use]
    pub fn value_of(&self, token: &str) -> Option<&str> {
        self.by_token.get(token).map(String::as_str)
    }

    /// Tokens created since the table was built, for the vault to store.
    pub fn take_fresh(&mut self) -> Vec<TokenEntry> {
        std::mem::take(&mut self.fresh)
    }

    /// Number of tokens known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether no token is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }
}

/// `⟦KIND_N⟧` → (`KIND`, N).
fn split_token(token: &str) -> Option<(&str, u32)> {
    let body = token.strip_prefix(TOKEN_OPEN)?.strip_suffix(TOKEN_CLOSE)?;
    let (kind, index) = body.rsplit_once('_')?;
    let kind_ok = kind.bytes().next().is_some_and(|c| c.is_ascii_uppercase())
        && kind.bytes().all(is_body_byte);
    let index_ok = !index.is_empty() && index.bytes().all(|c| c.is_ascii_digit());
    (kind_ok && index_ok)
        .then(|| index.parse().ok().map(|n| (kind, n)))
        .flatten()
}

const fn is_body_byte(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'
}

/// What the bytes at a `⟦` hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenAt {
    /// A well-formed token of this many bytes.
    Complete(usize),
    /// The text ends inside what could still become a token.
    Incomplete,
    /// Not a token (mangled or just a bracket).
    Invalid,
}

/// Parses a token at the start of `b`, which begins with `⟦`.
///
/// The answer depends only on the bytes up to the decision point, so a
/// stream restorer that holds back `Incomplete` tails gets the same answer
/// as a restore of the whole text.
pub(crate) fn token_at(b: &[u8]) -> TokenAt {
    let body = &b[TOKEN_OPEN.len().min(b.len())..];
    let len = body
        .iter()
        .take(MAX_BODY + 1)
        .take_while(|c| is_body_byte(**c))
        .count();
    if len > MAX_BODY {
        return TokenAt::Invalid;
    }
    let rest = &body[len..];
    if rest.is_empty()
        || (TOKEN_CLOSE.as_bytes().starts_with(rest) && rest.len() < TOKEN_CLOSE.len())
    {
        return TokenAt::Incomplete;
    }
    let total = TOKEN_OPEN.len() + len + TOKEN_CLOSE.len();
    let closed = rest.starts_with(TOKEN_CLOSE.as_bytes());
    let well_formed = closed
        && std::str::from_utf8(&b[..total])
            .ok()
            .and_then(split_token)
            .is_some();
    if well_formed {
        TokenAt::Complete(total)
    } else {
        TokenAt::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_token_and_counters_per_kind() {
        let mut table = TokenTable::new();
        assert_eq!(table.tokenise("EMAIL", "a@x.io"), "⟦EMAIL_1⟧");
        assert_eq!(table.tokenise("EMAIL", "b@x.io"), "⟦EMAIL_2⟧");
        assert_eq!(table.tokenise("EMAIL", "a@x.io"), "⟦EMAIL_1⟧");
        assert_eq!(table.tokenise("CARD", "4111111111111111"), "⟦CARD_1⟧");
        assert_eq!(table.value_of("⟦EMAIL_2⟧"), Some("b@x.io"));
        assert_eq!(table.take_fresh().len(), 3);
        assert!(table.take_fresh().is_empty());
    }

    #[test]
    fn reloaded_table_continues_numbering() {
        let mut table = TokenTable::new();
        table.tokenise("EMAIL", "a@x.io");
        table.tokenise("NATIONAL_ID", "536-22-1234");
        let mut reloaded = TokenTable::from_entries(table.take_fresh());
        assert_eq!(reloaded.tokenise("EMAIL", "a@x.io"), "⟦EMAIL_1⟧");
        assert_eq!(reloaded.tokenise("EMAIL", "c@x.io"), "⟦EMAIL_2⟧");
        assert_eq!(
            reloaded.tokenise("NATIONAL_ID", "078-05-1121"),
            "⟦NATIONAL_ID_2⟧"
        );
    }

    #[test]
    fn parses_tokens_prefixes_and_garbage() {
        assert_eq!(token_at("⟦EMAIL_12⟧ x".as_bytes()), TokenAt::Complete(14));
        assert_eq!(token_at("⟦EMAIL_12".as_bytes()), TokenAt::Incomplete);
        assert_eq!(token_at("⟦".as_bytes()), TokenAt::Incomplete);
        assert_eq!(token_at("⟦EMAIL⟧".as_bytes()), TokenAt::Invalid);
        assert_eq!(token_at("⟦email_1⟧".as_bytes()), TokenAt::Invalid);
        assert_eq!(token_at("⟦EMAIL_1] ".as_bytes()), TokenAt::Invalid);
        assert_eq!(token_at("⟦_1⟧".as_bytes()), TokenAt::Invalid);
    }

    #[test]
    fn debug_never_shows_values() {
        let mut table = TokenTable::new();
        table.tokenise("EMAIL", "secret@x.io");
        let entries = table.take_fresh();
        assert!(!format!("{table:?} {entries:?}").contains("secret@x.io"));
    }
}
