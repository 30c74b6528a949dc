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

use memchr::memmem;

use serde::{Deserialize, Serialize};

/// Opening bracket of a token (U+27E6).
pub const TOKEN_OPEN: &str = "\u{27E6}";
/// Closing bracket of a token (U+27E7).
pub const TOKEN_CLOSE: &str = "\u{27E7}";
/// Longest token body accepted between the brackets.
pub(crate) const MAX_BODY: usize = 48;
/// Longest token in bytes, brackets included: the most a stream restorer
/// holds back of plain text. JSON text that escapes every character of a
/// token (`\uXXXX`) takes up to six times as many.
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

/// How the text being scanned writes a token's characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// As they are: decoded text (message content).
    Plain,
    /// As JSON string content (tool-call arguments are JSON text): any
    /// character may also be a `\uXXXX` escape, in either case. Python's
    /// `json.dumps` escapes every non-ASCII character, brackets included,
    /// and some encoders escape ASCII too.
    Json,
}

/// One character read at the start of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Char {
    /// The character and how many bytes wrote it.
    Got(char, usize),
    /// The bytes end inside what could still be a token character.
    Short,
    /// Something no token holds (or an escape of something else).
    Other,
}

fn read_char(b: &[u8], written: Written) -> Char {
    match b.first() {
        None => Char::Short,
        Some(b'\\') if written == Written::Json => read_escape(b),
        Some(&c) if c.is_ascii() => Char::Got(char::from(c), 1),
        Some(_) => {
            // The brackets are the only non-ASCII characters of a token.
            for (text, c) in [(TOKEN_OPEN, '\u{27E6}'), (TOKEN_CLOSE, '\u{27E7}')] {
                if b.starts_with(text.as_bytes()) {
                    return Char::Got(c, text.len());
                }
                if b.len() < text.len() && text.as_bytes().starts_with(b) {
                    return Char::Short;
                }
            }
            Char::Other
        }
    }
}

/// Reads `\uXXXX` at the start of `b` (which begins with a backslash).
/// Other escapes are `Other`, and so are lone surrogates (no token
/// character needs a pair).
fn read_escape(b: &[u8]) -> Char {
    match b.get(1) {
        None => return Char::Short,
        Some(b'u') => {}
        Some(_) => return Char::Other,
    }
    let hex = &b[2..b.len().min(6)];
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return Char::Other;
    }
    if hex.len() < 4 {
        return Char::Short;
    }
    let code = hex.iter().fold(0u32, |n, &h| {
        n * 16 + char::from(h).to_digit(16).unwrap_or(0)
    });
    char::from_u32(code).map_or(Char::Other, |c| Char::Got(c, 6))
}

/// Where the next token may start in `b` at or after `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// An opening bracket of `len` bytes at `at`.
    At { at: usize, len: usize },
    /// The bytes end at `at` inside an escape that could still be one.
    Cut { at: usize },
}

/// Finds the next opening bracket, raw or (JSON) escaped. JSON escapes are
/// read whole, so `\\u27e6` (an escaped backslash, then text) is not one.
pub(crate) fn next_opening(b: &[u8], from: usize, written: Written) -> Option<Opening> {
    const LEAD: u8 = 0xE2; // first byte of both brackets
    if written == Written::Plain {
        return memmem::find(&b[from..], TOKEN_OPEN.as_bytes()).map(|i| Opening::At {
            at: from + i,
            len: TOKEN_OPEN.len(),
        });
    }
    let mut pos = from;
    while let Some(i) = memchr::memchr2(b'\\', LEAD, &b[pos..]) {
        let at = pos + i;
        match (b[at], read_char(&b[at..], written)) {
            (_, Char::Got('\u{27E6}', len)) => return Some(Opening::At { at, len }),
            (b'\\', Char::Short) => return Some(Opening::Cut { at }),
            (b'\\', Char::Got(_, len)) => pos = at + len,
            (b'\\', _) => pos = at + 2,
            _ => pos = at + 1,
        }
    }
    None
}

/// Whether JSON text may hold a token: an opening bracket, raw or escaped
/// (`\u27e6` in any case). Cheap enough for every answer: answers without
/// one pass through untouched.
pub fn may_contain_token(json: &[u8]) -> bool {
    memmem::find(json, TOKEN_OPEN.as_bytes()).is_some()
        || memmem::find_iter(json, b"\\u27").any(|i| {
            json.get(i + 4..i + 6)
                .is_some_and(|h| h.eq_ignore_ascii_case(b"e6"))
        })
}

/// Whether `text` needs a scan at all (a quick test before `restore_into`).
pub(crate) fn needs_scan(text: &[u8], written: Written) -> bool {
    match written {
        Written::Plain => memmem::find(text, TOKEN_OPEN.as_bytes()).is_some(),
        Written::Json => memchr::memchr2(b'\\', 0xE2, text).is_some(),
    }
}

/// What the bytes at an opening bracket hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenAt {
    /// A well-formed token written in this many bytes.
    Complete(usize),
    /// The text ends inside what could still become a token.
    Incomplete,
    /// Not a token (mangled or just a bracket).
    Invalid,
}

/// Parses a token at the start of `b`, which begins with an opening
/// bracket, and leaves it, decoded, in `token` (`⟦KIND_N⟧`).
///
/// The answer depends only on the bytes up to the decision point, so a
/// stream restorer that holds back `Incomplete` tails gets the same answer
/// as a restore of the whole text.
pub(crate) fn token_at(b: &[u8], written: Written, token: &mut String) -> TokenAt {
    token.clear();
    let mut pos = match read_char(b, written) {
        Char::Got('\u{27E6}', n) => n,
        Char::Short => return TokenAt::Incomplete,
        _ => return TokenAt::Invalid,
    };
    token.push_str(TOKEN_OPEN);
    let mut body = 0;
    loop {
        match read_char(&b[pos..], written) {
            Char::Short => return TokenAt::Incomplete,
            Char::Got('\u{27E7}', n) => {
                pos += n;
                token.push_str(TOKEN_CLOSE);
                break;
            }
            Char::Got(c, n) if c.is_ascii() && is_body_byte(c as u8) && body < MAX_BODY => {
                body += 1;
                token.push(c);
                pos += n;
            }
            _ => return TokenAt::Invalid,
        }
    }
    if split_token(token).is_some() {
        TokenAt::Complete(pos)
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

    fn at(text: &str, written: Written) -> (TokenAt, String) {
        let mut token = String::new();
        let found = token_at(text.as_bytes(), written, &mut token);
        (found, token)
    }

    #[test]
    fn parses_tokens_prefixes_and_garbage() {
        let plain = |t: &str| at(t, Written::Plain).0;
        assert_eq!(
            at("⟦EMAIL_12⟧ x", Written::Plain),
            (TokenAt::Complete(14), "⟦EMAIL_12⟧".into())
        );
        assert_eq!(plain("⟦EMAIL_12"), TokenAt::Incomplete);
        assert_eq!(plain("⟦"), TokenAt::Incomplete);
        assert_eq!(plain("⟦EMAIL⟧"), TokenAt::Invalid);
        assert_eq!(plain("⟦email_1⟧"), TokenAt::Invalid);
        assert_eq!(plain("⟦EMAIL_1] "), TokenAt::Invalid);
        assert_eq!(plain("⟦_1⟧"), TokenAt::Invalid);
        assert_eq!(
            plain(&format!("⟦{}_1⟧", "A".repeat(MAX_BODY))),
            TokenAt::Invalid
        );
        assert_eq!(
            plain(&format!("⟦{}_1⟧", "A".repeat(MAX_BODY - 2))),
            TokenAt::Complete(MAX_TOKEN_LEN)
        );
        // Plain text does not read escapes.
        assert_eq!(plain("⟦EMAIL_1\\u27e7"), TokenAt::Invalid);
    }

    #[test]
    fn json_text_may_escape_any_character_of_a_token() {
        for text in [
            "\\u27e6EMAIL_12\\u27e7",
            "\\u27E6EMAIL_12\\u27E7",
            "⟦EMAIL_12\\u27e7",
            "\\u27e6\\u0045MAIL\\u005f12⟧",
            "⟦EMAIL_12⟧",
        ] {
            let (found, token) = at(text, Written::Json);
            assert_eq!(found, TokenAt::Complete(text.len()), "{text}");
            assert_eq!(token, "⟦EMAIL_12⟧", "{text}");
        }
        let json = |t: &str| at(t, Written::Json).0;
        assert_eq!(json("\\u27e6EMAIL_1\\u27"), TokenAt::Incomplete);
        assert_eq!(json("\\u27e6EMAIL_1\\"), TokenAt::Incomplete);
        assert_eq!(json("\\u27e"), TokenAt::Incomplete);
        assert_eq!(json("\\u27e6EMAIL_1\\n"), TokenAt::Invalid);
        assert_eq!(json("\\u27e6EMAIL_1\\u27e8"), TokenAt::Invalid);
        assert_eq!(json("\\u27e6EMAIL_1\\ud83d"), TokenAt::Invalid);
    }

    #[test]
    fn openings_are_found_raw_or_escaped_but_not_after_an_escaped_backslash() {
        let find = |t: &str| next_opening(t.as_bytes(), 0, Written::Json);
        assert_eq!(find("ab ⟦X_1⟧"), Some(Opening::At { at: 3, len: 3 }));
        assert_eq!(find("é \\u27E6X_1"), Some(Opening::At { at: 3, len: 6 }));
        assert_eq!(find("\\\\u27e6X_1"), None);
        assert_eq!(find("\\\\\\u27e6X_1"), Some(Opening::At { at: 2, len: 6 }));
        assert_eq!(find("\\\"x\\u00e9 \\u2"), Some(Opening::Cut { at: 10 }));
        assert_eq!(find("x \\"), Some(Opening::Cut { at: 2 }));
        assert_eq!(find("\\u27e7 \\ud83d\\ude00 — ✓"), None);
        assert!(may_contain_token(br#"{"a":"\u27E6X_1\u27e7"}"#));
        assert!(may_contain_token("{\"a\":\"⟦X_1⟧\"}".as_bytes()));
        assert!(may_contain_token(
            br#"{"args":"{\"a\":\"\\u27e6X_1\\u27e7\"}"}"#
        ));
        assert!(!may_contain_token(br#"{"a":"\u27e7 \u00e9"}"#));
    }

    #[test]
    fn debug_never_shows_values() {
        let mut table = TokenTable::new();
        table.tokenise("EMAIL", "secret@x.io");
        let entries = table.take_fresh();
        assert!(!format!("{table:?} {entries:?}").contains("secret@x.io"));
    }
}
