//! Owns scrubbing credentials out of upstream-supplied text. A provider (or
//! a proxy in front of it) may echo the request it received — our
//! `Authorization`, `x-api-key`, AWS keys — in an error message, code or
//! stream error event. Every such text passes through [`Scrubber`] before it
//! leaves this crate, so neither the caller's error body, the decision
//! record nor a log line can carry the gateway's own credentials.
//!
//! Built once per configuration (the literal secret values in one
//! Aho-Corasick automaton, plus two patterns for credential-shaped tokens),
//! and used only on failure paths: a successful answer never passes here.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::Bytes;
use memchr::memmem;
use regex::Regex;
use signalbox_config::ProviderConfig;
use signalbox_core::ProviderErrorCode;

use crate::classify::UpstreamError;

/// The JSON key whose presence marks a forwarded chunk for scrubbing.
const ERROR_KEY: &[u8] = b"\"error\"";

/// What a scrubbed credential is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter configured values are not treated as secrets: they would
/// redact ordinary words.
const MIN_SECRET_LEN: usize = 6;
/// A configured header value this long may be a credential (a gateway or
/// proxy key in `headers:`); shorter ones (`2023-06-01`, `platform`) are not.
const MIN_HEADER_SECRET_LEN: usize = 16;

/// `Bearer <token>` (any case; 8 characters or more, so the prose "bearer
/// token is invalid" stays) and `sk-…` keys: credential-shaped tokens the
/// configuration does not know (another hop's key echoed back).
const TOKEN_PATTERN: &str =
    r"(?i)(\bbearer[ \t]+)[A-Za-z0-9\-._~+/]{8,}=*|\b(sk-[A-Za-z0-9][A-Za-z0-9_\-]{15,})";

/// Removes credentials from upstream-supplied text.
#[derive(Debug, Clone)]
pub struct Scrubber {
    /// The configured secret values; `None` when there are none.
    secrets: Option<AhoCorasick>,
    /// Credential-shaped tokens (`None` only if the constant pattern failed
    /// to compile, which the unit tests rule out).
    tokens: Option<Regex>,
    /// Finds `"error"` in a forwarded chunk (built once: SIMD search).
    error_key: memmem::Finder<'static>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self::new(std::iter::empty::<&str>())
    }
}

impl Scrubber {
    /// A scrubber for these secret values (and credential-shaped tokens).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut values: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        values.sort();
        values.dedup();
        let secrets = (!values.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&values)
                    .ok()
            })
            .flatten();
        let tokens = Regex::new(TOKEN_PATTERN).ok();
        Self {
            secrets,
            tokens,
            error_key: memmem::Finder::new(ERROR_KEY),
        }
    }

    /// A scrubber for every credential the providers are configured with:
    /// API keys, AWS keys and session tokens, and long header values.
    pub fn for_providers(providers: &[ProviderConfig]) -> Self {
        let mut values: Vec<&str> = Vec::new();
        for p in providers {
            values.extend(p.api_key.as_ref().map(|k| k.expose()));
            if let Some(aws) = &p.aws {
                values.push(aws.access_key_id.expose());
                values.push(aws.secret_access_key.expose());
                values.extend(aws.session_token.as_ref().map(|t| t.expose()));
            }
            values.extend(
                p.headers
                    .iter()
                    .map(|(_, v)| v.as_str())
                    .filter(|v| v.len() >= MIN_HEADER_SECRET_LEN),
            );
        }
        Self::new(values)
    }

    /// `text` with every secret value and credential-shaped token replaced.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let literal = match &self.secrets {
            Some(ac) if ac.is_match(text) => {
                Cow::Owned(ac.replace_all(text, &vec![REDACTED; ac.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        };
        let Some(tokens) = self.tokens.as_ref().filter(|t| t.is_match(&literal)) else {
            return literal;
        };
        let replaced = tokens
            .replace_all(&literal, |c: &regex::Captures<'_>| match c.get(1) {
                Some(scheme) => format!("{}{REDACTED}", scheme.as_str()),
                None => REDACTED.to_owned(),
            })
            .into_owned();
        Cow::Owned(replaced)
    }

    /// [`Self::scrub`] into an owned string.
    pub fn clean(&self, text: &str) -> String {
        self.scrub(text).into_owned()
    }

    /// A chunk of a stream forwarded as the provider sent it, scrubbed when
    /// it carries an `"error"` key (an error event may echo the request);
    /// any other chunk is returned as is after one `memmem` scan.
    pub fn chunk(&self, chunk: Bytes) -> Bytes {
        if self.error_key.find(&chunk).is_none() {
            return chunk;
        }
        // A chunk may end inside a character: scrub the valid text, keep
        // the tail bytes as they are.
        let valid = match std::str::from_utf8(&chunk) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap_or_default(),
        };
        match self.scrub(valid) {
            Cow::Borrowed(_) => chunk,
            Cow::Owned(clean) => {
                let mut out = clean.into_bytes();
                out.extend_from_slice(&chunk[valid.len()..]);
                Bytes::from(out)
            }
        }
    }

    /// The provider's identifiers, scrubbed and bounded.
    pub fn ids(&self, ids: ProviderErrorCode) -> Option<ProviderErrorCode> {
        let bound =
            |s: Option<String>| s.map(|s| crate::classify::truncate(&self.scrub(&s), MAX_ID_LEN));
        ProviderErrorCode {
            code: bound(ids.code),
            kind: bound(ids.kind),
            param: bound(ids.param),
        }
        .non_empty()
    }

    /// A classified error with its upstream-supplied parts scrubbed (a last
    /// pass: the parts are scrubbed before truncation where they are made).
    pub fn error(&self, mut e: UpstreamError) -> UpstreamError {
        if let Cow::Owned(clean) = self.scrub(&e.detail) {
            e.detail = clean;
        }
        e.provider_error = e.provider_error.and_then(|ids| self.ids(ids));
        e
    }
}

/// Longest provider code, type or param kept.
const MAX_ID_LEN: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_pattern_compiles() {
        assert!(Scrubber::default().tokens.is_some());
    }

    #[test]
    fn configured_secrets_are_replaced_wherever_they_appear() {
        let s = Scrubber::new(["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "tiny"]);
        let out = s.scrub("key AKIAIOSFODNN7EXAMPLE and secret=wJalrXUtnFEMI/K7MDENG; tiny");
        assert_eq!(out, "key [redacted] and secret=[redacted]; tiny");
    }

    #[test]
    fn bearer_and_sk_tokens_are_replaced_even_when_unknown() {
        let s = Scrubber::default();
        assert_eq!(
            s.scrub("got Authorization: BEARER abc.DEF-123/x== from you"),
            "got Authorization: BEARER [redacted] from you"
        );
        assert_eq!(
            s.scrub("Incorrect API key provided: sk-proj-abcdefghijklmnop1234."),
            "Incorrect API key provided: [redacted]."
        );
        // Ordinary text is left alone, borrowed.
        let plain = "maximum context length is 8192 tokens; the bearer token is invalid";
        assert!(matches!(s.scrub(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn forwarded_chunks_are_scrubbed_only_when_they_carry_an_error() {
        let s = Scrubber::new(["sk-gateway-own-key-000"]);
        let ok = Bytes::from_static(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"sk-gateway-own-key-000\"}}]}\n\n",
        );
        // Not an error event: forwarded untouched (the same bytes).
        assert_eq!(s.chunk(ok.clone()).as_ptr(), ok.as_ptr());
        let mut bad =
            b"data: {\"error\":{\"message\":\"you sent Bearer sk-gateway-own-key-000\"}}\n\n"
                .to_vec();
        bad.extend_from_slice(&"é".as_bytes()[..1]);
        let out = s.chunk(Bytes::from(bad));
        assert!(
            !String::from_utf8_lossy(&out).contains("own-key"),
            "{out:?}"
        );
        assert_eq!(
            out.last(),
            Some(&"é".as_bytes()[0]),
            "the split character's byte is kept"
        );
    }

    #[test]
    fn ids_are_scrubbed_and_bounded() {
        let s = Scrubber::new(["secret-value-1"]);
        let ids = s
            .ids(ProviderErrorCode {
                code: Some("secret-value-1".into()),
                kind: Some("x".repeat(500)),
                param: None,
            })
            .unwrap();
        assert_eq!(ids.code.as_deref(), Some(REDACTED));
        assert!(ids.kind.unwrap().len() <= MAX_ID_LEN + '…'.len_utf8());
        assert_eq!(s.ids(ProviderErrorCode::default()), None);
    }
}
