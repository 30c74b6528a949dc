//! Cuts prompt text into segments that a tokenizer counts one by one in
//! bounded work, so that counting is linear with a small constant on any
//! input.
//!
//! Why: a BPE tokenizer first splits text into pre-tokens (words, number
//! groups, punctuation runs, whitespace runs), then merges each pre-token's
//! bytes. The merge costs `O(n log n)` in the pre-token's length with a
//! large constant, and real text keeps pre-tokens short — but 4 MiB of
//! spaces, of one letter, of emoji or of text without spaces is *one*
//! pre-token, and counted 100–150 times slower than prose.
//!
//! So the text is cut at places where `o200k_base`'s pre-tokenizer cuts
//! anyway ("natural" boundaries, see `is_natural_boundary`), grouped into
//! segments of about [`GROUP`] bytes; and any stretch of [`RUN_CAP`] bytes
//! with no natural boundary is cut where it reaches that length (a "hard"
//! cut). Counting segment by segment gives exactly the count of the whole
//! text when no hard cut was made (prose, code, CJK with punctuation: a
//! property test checks it against the real tokenizer); a hard cut changes
//! the count by about one token, and only in runs that long.

/// Longest stretch without a natural boundary that is left whole. 96 bytes
/// is the longest pre-token the tokenizer memoises, so the pieces of a long
/// repetitive run are counted from its cache; longer pre-tokens are rare in
/// real text (docs/token-estimates.md states the accuracy cost).
pub const RUN_CAP: usize = 96;

/// Segments end at the first natural boundary after this many bytes: few
/// enough calls into the tokenizer, small enough to stay in cache.
pub const GROUP: usize = 16 * 1024;

/// How a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// At a natural boundary: the count is unchanged by the cut.
    Natural,
    /// Inside a run of [`RUN_CAP`] bytes without a natural boundary.
    Hard,
    /// At the end of the text.
    End,
}

/// The segments of a text, in order; they concatenate to the text.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    text: &'a str,
    pos: usize,
    group: usize,
    run_cap: usize,
}

impl<'a> Segments<'a> {
    /// Segments of `text` with the production sizes ([`GROUP`], [`RUN_CAP`]).
    pub fn new(text: &'a str) -> Self {
        Self::with_sizes(text, GROUP, RUN_CAP)
    }

    /// Segments of `text` ending at the first natural boundary after
    /// `group` bytes, or after `run_cap` bytes without one (tests use small
    /// sizes to make many cuts).
    pub fn with_sizes(text: &'a str, group: usize, run_cap: usize) -> Self {
        Self {
            text,
            pos: 0,
            group: group.max(1),
            run_cap: run_cap.max(1),
        }
    }

    /// Ends the current segment at `end`.
    fn cut(&mut self, end: usize, cut: Cut) -> Option<(&'a str, Cut)> {
        let segment = self.text.get(self.pos..end)?;
        self.pos = end;
        Some((segment, cut))
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = (&'a str, Cut);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let len = bytes.len();
        if start >= len {
            return None;
        }
        let mut run_start = start;
        // The next space or tab at or after `i`, found with memchr: in
        // prose one is never far, and the bytes before it need no look
        // while it is within `run_cap` of the run's start. The search stops
        // past that distance (`space` is then where it stopped, which only
        // sends the loop to the byte-by-byte path), so it never rescans the
        // rest of a long text without spaces.
        let mut space = start;
        let mut i = start + 1;
        while i < len {
            if space < i {
                let window = run_start
                    .saturating_add(self.run_cap)
                    .saturating_add(1)
                    .max(i)
                    .min(len);
                space = memchr::memchr2(b' ', b'\t', bytes.get(i..window).unwrap_or_default())
                    .map_or(window, |k| i + k);
            }
            let at = if space.saturating_sub(run_start) <= self.run_cap {
                // Jump: no cut is due before the space.
                if space >= len {
                    break;
                }
                space
            } else {
                i
            };
            let byte = bytes.get(at).copied().unwrap_or_default();
            if may_start_boundary(byte) && is_natural_boundary(self.text, at) {
                if at - start >= self.group {
                    return self.cut(at, Cut::Natural);
                }
                run_start = at;
            } else if at - run_start >= self.run_cap && !is_continuation(byte) {
                return self.cut(at, Cut::Hard);
            }
            i = at + 1;
        }
        self.cut(len, Cut::End)
    }
}

/// Whether a natural boundary may fall before `byte` (a cheap first test).
#[inline]
fn may_start_boundary(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | 0xE3 | 0xEF) || (byte.is_ascii_punctuation() && byte != b'\'')
}

/// Whether `byte` continues a UTF-8 sequence (so no character starts there).
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Whether `o200k_base`'s pre-tokenizer always starts a pre-token at byte
/// `i` of `text`, whatever follows, so counting `text[..i]` and `text[i..]`
/// apart gives the same total. Each rule follows from its pattern
/// (`crates/…/tiktoken/src/encoding.rs`, `O200K_PATTERN`): no alternative
/// matches a non-whitespace character followed by a space or tab (a leading
/// space belongs to the next word or punctuation run); a letter or digit
/// followed by ASCII punctuation other than `'` (only the contractions `'s`,
/// `'t`, … follow letters); a CJK letter followed by CJK punctuation (the
/// same rule, outside ASCII).
fn is_natural_boundary(text: &str, i: usize) -> bool {
    let bytes = text.as_bytes();
    let (Some(&byte), Some(&before)) = (bytes.get(i), bytes.get(i.wrapping_sub(1))) else {
        return false;
    };
    match byte {
        b' ' | b'\t' => !previous_char(text, i).is_some_and(char::is_whitespace),
        b'\'' => false,
        _ if byte.is_ascii_punctuation() => before.is_ascii_alphanumeric(),
        // The lead bytes of the CJK punctuation below.
        0xE3 | 0xEF => {
            next_char(text, i).is_some_and(is_cjk_punctuation)
                && previous_char(text, i).is_some_and(is_cjk_letter)
        }
        _ => false,
    }
}

/// The character ending at byte `i`.
fn previous_char(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

/// The character starting at byte `i`.
fn next_char(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

/// Ideographs, kana and Hangul syllables: all in the letter class `\p{Lo}`.
fn is_cjk_letter(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | '\u{AC00}'..='\u{D7A3}')
}

/// CJK sentence punctuation, all `\p{Po}`: 、 。 ， ！ ？ ： ；
fn is_cjk_punctuation(c: char) -> bool {
    matches!(
        c,
        '\u{3001}' | '\u{3002}' | '\u{FF0C}' | '\u{FF01}' | '\u{FF1F}' | '\u{FF1A}' | '\u{FF1B}'
    )
}

#[cfg(test)]
mod tests;
