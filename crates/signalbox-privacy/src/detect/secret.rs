//! Owns secrets: credentials with a well-known prefix (AWS access key ids,
//! OpenAI/Anthropic `sk-`, Stripe, GitHub, GitLab, Slack, Google API keys,
//! Hugging Face, npm), JSON Web Tokens, PEM private key blocks, and
//! high-entropy tokens that mix upper case, lower case and digits.
//!
//! Detectors here look at one *run* of `[A-Za-z0-9_+/-]` found by the shared
//! scan, so ordinary words cost one first-byte check.
//!
//! Entropy alone cannot tell a 32-character camelCase identifier from a
//! random key (the identifier sits near the 5th percentile of random base62).
//! So a high-entropy token counts when a credential keyword (`key`,
//! `secret`, `token`, `password`, …) precedes it within 40 bytes, or, with
//! no keyword, when it is at least 32 characters and jumbled (see
//! `looks_random`).

use memchr::memmem;

use crate::EntropySpec;

/// A credential shape: a literal prefix, then `min..=max` body characters.
struct Prefix {
    prefix: &'static [u8],
    min: usize,
    max: usize,
    body: fn(u8) -> bool,
}

const fn upper_digit(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

const fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

const fn alnum_dash(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

const fn url_safe(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

const fn word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[rustfmt::skip]
const PREFIXES: &[Prefix] = &[
    Prefix { prefix: b"AKIA", min: 16, max: 16, body: upper_digit },
    Prefix { prefix: b"ASIA", min: 16, max: 16, body: upper_digit },
    Prefix { prefix: b"AIza", min: 35, max: 35, body: url_safe },
    Prefix { prefix: b"sk-", min: 20, max: 256, body: url_safe },
    Prefix { prefix: b"sk_live_", min: 16, max: 128, body: alnum },
    Prefix { prefix: b"sk_test_", min: 16, max: 128, body: alnum },
    Prefix { prefix: b"rk_live_", min: 16, max: 128, body: alnum },
    Prefix { prefix: b"ghp_", min: 30, max: 255, body: alnum },
    Prefix { prefix: b"gho_", min: 30, max: 255, body: alnum },
    Prefix { prefix: b"ghu_", min: 30, max: 255, body: alnum },
    Prefix { prefix: b"ghs_", min: 30, max: 255, body: alnum },
    Prefix { prefix: b"ghr_", min: 30, max: 255, body: alnum },
    Prefix { prefix: b"github_pat_", min: 22, max: 255, body: word },
    Prefix { prefix: b"glpat-", min: 20, max: 64, body: url_safe },
    Prefix { prefix: b"xoxb-", min: 10, max: 255, body: alnum_dash },
    Prefix { prefix: b"xoxa-", min: 10, max: 255, body: alnum_dash },
    Prefix { prefix: b"xoxp-", min: 10, max: 255, body: alnum_dash },
    Prefix { prefix: b"xoxr-", min: 10, max: 255, body: alnum_dash },
    Prefix { prefix: b"xoxs-", min: 10, max: 255, body: alnum_dash },
    Prefix { prefix: b"hf_", min: 30, max: 64, body: alnum },
    Prefix { prefix: b"npm_", min: 36, max: 36, body: alnum },
];

/// Shortest run worth a secret check (`-----BEGIN`).
pub(crate) const MIN_RUN: usize = 10;
/// Shortest run worth a prefix check (`xoxb-` and ten characters).
const MIN_PREFIXED: usize = 15;
/// Longest run worth an entropy check; longer blobs are data, not keys.
const MAX_ENTROPY_LEN: usize = 512;

/// The end of a secret starting at the run `b[start..end]`, if there is one.
/// The result may lie beyond `end` (JWTs and PEM blocks span several runs).
pub(crate) fn secret_at(
    b: &[u8],
    start: usize,
    end: usize,
    entropy: Option<&EntropySpec>,
) -> Option<usize> {
    let run = &b[start..end];
    if run.starts_with(b"-----BEGIN") {
        return private_key(b, start);
    }
    if run.len() < MIN_PREFIXED {
        return None;
    }
    let found = match run[0] {
        b'e' if run.starts_with(b"eyJ") => jwt(b, start),
        b'A' | b's' | b'r' | b'g' | b'x' | b'h' | b'n' => prefixed(run).map(|len| start + len),
        _ => None,
    };
    found.or_else(|| {
        let len = high_entropy(run, entropy?)?;
        let evidence = keyword_before(b, start) || looks_random(&run[..len]);
        evidence.then_some(start + len)
    })
}

/// Length of a prefixed credential at the start of `run`.
fn prefixed(run: &[u8]) -> Option<usize> {
    PREFIXES.iter().find_map(|p| {
        let rest = run.strip_prefix(p.prefix)?;
        let body = rest.iter().take_while(|c| (p.body)(**c)).count();
        let bounded = rest.get(body).is_none_or(|c| !c.is_ascii_alphanumeric());
        ((p.min..=p.max).contains(&body) && bounded).then_some(p.prefix.len() + body)
    })
}

/// `header.payload.signature`, base64url, header and payload starting `eyJ`.
fn jwt(b: &[u8], start: usize) -> Option<usize> {
    let segment = |pos: usize| {
        b.get(pos..)
            .map_or(0, |r| r.iter().take_while(|c| url_safe(**c)).count())
    };
    let header = segment(start);
    let payload_at = start + header + 1;
    if b.get(start + header) != Some(&b'.') || !b.get(payload_at..)?.starts_with(b"eyJ") {
        return None;
    }
    let payload = segment(payload_at);
    let signature_at = payload_at + payload + 1;
    let signature = segment(signature_at);
    (b.get(payload_at + payload) == Some(&b'.') && payload >= 10 && signature >= 16)
        .then_some(signature_at + signature)
}

/// `-----BEGIN … PRIVATE KEY-----` through the matching `-----END …-----`, or
/// through the base64 body when the block is cut off.
fn private_key(b: &[u8], start: usize) -> Option<usize> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const KEY_HEADER_END: &[u8] = b"PRIVATE KEY-----";
    let label_from = start + BEGIN.len();
    let label_len = b
        .get(label_from..)?
        .iter()
        .take(40)
        .take_while(|c| c.is_ascii_uppercase() || **c == b' ')
        .count();
    let header_end = label_from + label_len + 5;
    if !b.get(start..)?.starts_with(BEGIN) || !b.get(..header_end)?.ends_with(KEY_HEADER_END) {
        return None;
    }
    let rest = &b[header_end..];
    if let Some(end_at) = memmem::find(&rest[..rest.len().min(64 * 1024)], b"-----END ") {
        let close_from = end_at + 9;
        if let Some(close) = memmem::find(&rest[close_from..], b"-----") {
            return Some(header_end + close_from + close + 5);
        }
    }
    let body = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || b"+/=\r\n \\".contains(c))
        .count();
    Some(header_end + body)
}

/// Words that, shortly before a token, say it is a credential.
const KEYWORDS: &[&[u8]] = &[
    b"key",
    b"secret",
    b"token",
    b"passw",
    b"pwd",
    b"auth",
    b"credential",
    b"bearer",
    b"api",
    b"private",
    b"signature",
    b"access",
];
/// How far back a keyword may be.
const KEYWORD_WINDOW: usize = 40;
/// Without a keyword, a token must be at least this long…
const CONTEXT_FREE_MIN_LEN: usize = 32;
/// …and change character class (upper, lower, digit, symbol) between at
/// least this share of neighbours: about 0.62 for random base62 (2.5th
/// percentile 0.45), at most about 0.41 for camelCase identifiers and
/// base64-encoded files.
const CONTEXT_FREE_MIN_CLASS_CHANGES: f64 = 0.45;
/// Integrity hashes (`sha512-…`) are high-entropy but public.
const HASH_PREFIXES: &[&[u8]] = &[b"sha1-", b"sha256-", b"sha384-", b"sha512-"];

/// Whether a credential keyword appears just before `start`.
fn keyword_before(b: &[u8], start: usize) -> bool {
    let window = &b[start.saturating_sub(KEYWORD_WINDOW)..start];
    KEYWORDS
        .iter()
        .any(|k| window.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k)))
}

/// Long and jumbled enough to be a secret without a keyword.
fn looks_random(token: &[u8]) -> bool {
    let class = |c: u8| match c {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    let changes = token
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    #[expect(clippy::cast_precision_loss, reason = "lengths are at most 512")]
    let share = changes as f64 / token.len().saturating_sub(1).max(1) as f64;
    token.len() >= CONTEXT_FREE_MIN_LEN && share >= CONTEXT_FREE_MIN_CLASS_CHANGES
}

/// Length of a high-entropy token at the start of `run` (trailing punctuation trimmed).
fn high_entropy(run: &[u8], spec: &EntropySpec) -> Option<usize> {
    let len = run.len()
        - run
            .iter()
            .rev()
            .take_while(|c| !c.is_ascii_alphanumeric())
            .count();
    let token = &run[..len];
    let hash = HASH_PREFIXES.iter().any(|p| token.starts_with(p));
    if hash || !(spec.min_len..=MAX_ENTROPY_LEN).contains(&len) || !token[0].is_ascii_alphanumeric()
    {
        return None;
    }
    let mut counts = [0u16; 128];
    let (mut upper, mut lower, mut digit, mut slashes) = (0, 0, 0, 0);
    for &c in token {
        counts[usize::from(c & 0x7f)] += 1;
        upper += usize::from(c.is_ascii_uppercase());
        lower += usize::from(c.is_ascii_lowercase());
        digit += usize::from(c.is_ascii_digit());
        slashes += usize::from(c == b'/');
    }
    // Paths and identifiers: slashes as separators, or few digits.
    if upper == 0 || lower == 0 || digit < 2 || slashes > 2 {
        return None;
    }
    (shannon_bits(&counts, len) >= spec.min_bits_per_char).then_some(len)
}

/// Shannon entropy in bits per symbol of a histogram over `len` symbols.
pub(crate) fn shannon_bits(counts: &[u16], len: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "lengths are at most 512")]
    let total = len as f64;
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests;
