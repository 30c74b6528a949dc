//! Owns the byte-level predicates every detector shares: what a word
//! character is and where a number may start or end.

/// `[A-Za-z0-9_]`.
pub(crate) const fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// May a number-like value (card, phone, SSN, IPv4) start at `pos`?
///
/// Not when glued to a word, a path, an amount or a previous number
/// (`v1.2`, `#123`, `$4`, `3.14`, `1,234`).
pub(crate) fn number_starts(b: &[u8], pos: usize) -> bool {
    let Some(&prev) = pos.checked_sub(1).and_then(|p| b.get(p)) else {
        return true;
    };
    if is_word(prev) || b"._-+/@#$%&\\~^*".contains(&prev) {
        return false;
    }
    if matches!(prev, b',' | b':') {
        let before = pos.checked_sub(2).and_then(|p| b.get(p));
        return !before.is_some_and(u8::is_ascii_digit);
    }
    true
}

/// May a number-like value end at `end` (exclusive)?
///
/// Not when the next byte continues a word or an address, or a separator
/// is followed by more digits (`1.2.3`, `2024-01-15`).
pub(crate) fn number_ends(b: &[u8], end: usize) -> bool {
    let Some(&next) = b.get(end) else {
        return true;
    };
    if is_word(next) || next == b'@' {
        return false;
    }
    if matches!(next, b'.' | b'-' | b',' | b'/' | b':') {
        return !b.get(end + 1).is_some_and(u8::is_ascii_digit);
    }
    true
}

/// Quick reject for a digit run at `pos`: every numeric class needs either
/// 13+ contiguous digits or a separator (`.`, space, `-`) followed by a
/// digit or `(`. Most numbers in prose (`17 fixes`, `12.5%`) fail here.
pub(crate) fn may_be_value(b: &[u8], pos: usize) -> bool {
    let len = digits_at(b, pos);
    let continues = matches!(b.get(pos + len), Some(b'.' | b' ' | b'-'))
        && b.get(pos + len + 1)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'(');
    continues || len >= 13
}

/// Length of the run of ASCII digits starting at `pos`.
pub(crate) fn digits_at(b: &[u8], pos: usize) -> usize {
    b.get(pos..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_ascii_digit()).count()
    })
}
