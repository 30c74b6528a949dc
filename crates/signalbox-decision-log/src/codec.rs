//! Owns the compact form of a routine record: its JSON split into a
//! *shape* (the text with every run of digits replaced by a placeholder and
//! every signal value left empty, kept once per policy version) and the
//! record's own *values* (the digits and signal values), stored as the
//! difference from the first record of that shape. Lossless: rendering the
//! shape with the values gives back the record's JSON byte for byte.
//!
//! Why digits and signal values: they are what differs between two
//! requests decided the same way (token counts, latencies, costs, the
//! session id); the rest (rule lines, verdicts, routes) repeats.

use std::hash::{BuildHasherDefault, Hasher};

mod fingerprint;

pub(crate) use fingerprint::{Scratch, fingerprint};

/// Stands for one run of digits in a shape. serde_json escapes control
/// characters inside strings and writes none outside them, so the byte
/// never occurs in its output.
pub(crate) const PLACEHOLDER: u8 = 0x01;

/// Longer runs of digits stay in the shape (their value would not fit a
/// `u64` with room to spare).
const MAX_RUN: usize = 17;

/// One number taken out of a shape: a run of digits (its value and its
/// leading zeros: `007` is 7 after 2), or a JSON number with a fraction
/// or an exponent (a cost, a score), kept as the `f64` it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Num {
    Int { value: u64, zeros: u8 },
    Float(u64),
}

impl Num {
    fn int(run: &[u8]) -> Self {
        let lead = run.iter().take_while(|&&b| b == b'0').count();
        // "000" is the value 0 after two zeros.
        let zeros = lead.min(run.len() - 1);
        let value = run[zeros..]
            .iter()
            .fold(0u64, |v, &b| v * 10 + u64::from(b - b'0'));
        Self::Int {
            value,
            zeros: u8::try_from(zeros).unwrap_or(0),
        }
    }

    fn render(self, out: &mut Vec<u8>) {
        match self {
            Self::Int { value, zeros } => {
                out.extend(std::iter::repeat_n(b'0', usize::from(zeros)));
                let mut digits = [0u8; 20];
                let mut i = digits.len();
                let mut v = value;
                loop {
                    i -= 1;
                    digits[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                    if v == 0 {
                        break;
                    }
                }
                out.extend_from_slice(&digits[i..]);
            }
            Self::Float(bits) => {
                // Only values written by serde_json are kept: finite ones.
                let _ = serde_json::to_writer(&mut *out, &f64::from_bits(bits));
            }
        }
    }
}

/// What one record adds to its shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Values {
    /// The numbers, in order.
    pub digits: Vec<Num>,
    /// The signal values, in order (borrowed when static, as in the record).
    pub signals: Vec<std::borrow::Cow<'static, str>>,
}

impl Values {
    pub(crate) fn clear(&mut self) {
        self.digits.clear();
        self.signals.clear();
    }

    /// The values as a shape's defaults: every one of them.
    pub(crate) fn encode_all(&self, out: &mut Vec<u8>) {
        out.clear();
        varint(self.digits.len() as u64, out);
        varint(self.signals.len() as u64, out);
        for d in &self.digits {
            digits(*d, out);
        }
        for s in &self.signals {
            text(s, out);
        }
    }

    /// Reads [`Values::encode_all`].
    pub(crate) fn decode_all(mut input: &[u8]) -> Option<Self> {
        let nd = usize::try_from(read_varint(&mut input)?).ok()?;
        let ns = usize::try_from(read_varint(&mut input)?).ok()?;
        let mut v = Self::default();
        for _ in 0..nd {
            v.digits.push(read_digits(&mut input)?);
        }
        for _ in 0..ns {
            v.signals.push(read_text(&mut input)?.into());
        }
        Some(v)
    }

    /// The values that differ from `base` (same counts): a bit per value,
    /// then the differing ones.
    pub(crate) fn encode_diff(&self, base: &Self, out: &mut Vec<u8>) {
        out.clear();
        let n = self.digits.len() + self.signals.len();
        let start = out.len();
        out.resize(start + n.div_ceil(8), 0);
        let mut bit = 0;
        for (d, b) in self.digits.iter().zip(&base.digits) {
            if d != b {
                out[start + bit / 8] |= 1 << (bit % 8);
                digits(*d, out);
            }
            bit += 1;
        }
        for (s, b) in self.signals.iter().zip(&base.signals) {
            if s != b {
                out[start + bit / 8] |= 1 << (bit % 8);
                text(s, out);
            }
            bit += 1;
        }
    }

    /// Reads [`Values::encode_diff`] against `base`.
    pub(crate) fn decode_diff(base: &Self, input: &[u8]) -> Option<Self> {
        let n = base.digits.len() + base.signals.len();
        let (mask, mut rest) = input.split_at_checked(n.div_ceil(8))?;
        let differs = |bit: usize| mask[bit / 8] & (1 << (bit % 8)) != 0;
        let mut v = base.clone();
        for (i, d) in v.digits.iter_mut().enumerate() {
            if differs(i) {
                *d = read_digits(&mut rest)?;
            }
        }
        let nd = base.digits.len();
        for (i, s) in v.signals.iter_mut().enumerate() {
            if differs(nd + i) {
                *s = read_text(&mut rest)?.into();
            }
        }
        Some(v)
    }
}

/// Writes `value` as serde_json would, but into its shape (`shape`) and its
/// numbers (appended to `out`): every JSON number, and every run of
/// digits inside a string, becomes a placeholder. Done as the JSON is
/// written (a serde_json formatter), so the text is never scanned again.
pub(crate) fn split<T: serde::Serialize + ?Sized>(
    value: &T,
    shape: &mut Vec<u8>,
    out: &mut Vec<Num>,
) -> serde_json::Result<()> {
    shape.clear();
    let mut ser = serde_json::Serializer::with_formatter(&mut *shape, Shaper { out });
    value.serialize(&mut ser)
}

/// Integers at or above this stay in the shape (their value must leave
/// room for the two tag bits of the encoding).
const MAX_INT: u64 = 1 << 61;

/// The formatter behind [`split`].
struct Shaper<'a> {
    out: &'a mut Vec<Num>,
}

impl Shaper<'_> {
    fn int<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: u64) -> std::io::Result<()> {
        if v >= MAX_INT {
            return write!(w, "{v}");
        }
        self.out.push(Num::Int { value: v, zeros: 0 });
        w.write_all(&[PLACEHOLDER])
    }

    fn signed<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: i64) -> std::io::Result<()> {
        if v < 0 {
            w.write_all(b"-")?;
        }
        self.int(w, v.unsigned_abs())
    }
}

impl serde_json::ser::Formatter for Shaper<'_> {
    fn write_u8<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: u8) -> std::io::Result<()> {
        self.int(w, u64::from(v))
    }
    fn write_u16<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: u16) -> std::io::Result<()> {
        self.int(w, u64::from(v))
    }
    fn write_u32<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: u32) -> std::io::Result<()> {
        self.int(w, u64::from(v))
    }
    fn write_u64<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: u64) -> std::io::Result<()> {
        self.int(w, v)
    }
    fn write_i8<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: i8) -> std::io::Result<()> {
        self.signed(w, i64::from(v))
    }
    fn write_i16<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: i16) -> std::io::Result<()> {
        self.signed(w, i64::from(v))
    }
    fn write_i32<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: i32) -> std::io::Result<()> {
        self.signed(w, i64::from(v))
    }
    fn write_i64<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: i64) -> std::io::Result<()> {
        self.signed(w, v)
    }

    /// serde_json passes finite values only (others are written `null`).
    fn write_f64<W: std::io::Write + ?Sized>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        self.out.push(Num::Float(v.to_bits()));
        w.write_all(&[PLACEHOLDER])
    }

    fn write_string_fragment<W: std::io::Write + ?Sized>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for run in runs(fragment.as_bytes()) {
            match run {
                Run::Text(t) => w.write_all(t)?,
                Run::Digits(d) if d.len() > MAX_RUN => w.write_all(d)?,
                Run::Digits(d) => {
                    self.out.push(Num::int(d));
                    w.write_all(&[PLACEHOLDER])?;
                }
            }
        }
        Ok(())
    }
}

/// A maximal run of a string's bytes: digits or no digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run<'a> {
    Text(&'a [u8]),
    Digits(&'a [u8]),
}

/// `bytes` as alternating runs of non-digits and digits (none empty).
fn runs(bytes: &[u8]) -> impl Iterator<Item = Run<'_>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let first = *rest.first()?;
        let digit = first.is_ascii_digit();
        let len = if digit {
            rest.iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(rest.len())
        } else {
            first_digit(rest)
        };
        let (run, tail) = rest.split_at(len);
        rest = tail;
        Some(if digit {
            Run::Digits(run)
        } else {
            Run::Text(run)
        })
    })
}

/// Where the first digit of `bytes` is (`bytes.len()` when none).
///
/// Why a word at a time: most of a record's text is short runs without
/// digits (verdicts, names, reasons), and this search was the writer's
/// hottest loop. Eight bytes are tested at once (SWAR); the last partial
/// word is the text's last eight bytes read again (copying the tail into
/// a zeroed word cost a `memcpy` call and a stalled load per string).
#[inline]
pub(crate) fn first_digit(bytes: &[u8]) -> usize {
    let len = bytes.len();
    if len < 8 {
        return bytes.iter().position(u8::is_ascii_digit).unwrap_or(len);
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        digit_mask(u64::from_le_bytes(w))
    };
    let mut at = 0;
    while at + 8 <= len {
        let m = word(at);
        if m != 0 {
            return at + (m.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    if at == len {
        return len;
    }
    // The last eight bytes again: those below `at` hold no digit, so they
    // flag nothing (not even by a borrow); only the new ones can.
    match word(len - 8) {
        0 => len,
        m => len - 8 + (m.trailing_zeros() / 8) as usize,
    }
}

/// The high bit of each byte of `w` (little-endian) that may be an ASCII
/// digit: `b ^ b'0' < 10`, tested on all eight at once. A borrow can only
/// flag a byte above (after) a true digit, so the lowest flag is exact.
#[inline]
fn digit_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = w ^ (ONES * u64::from(b'0'));
    x.wrapping_sub(ONES * 10) & !x & HIGH
}

/// Renders `shape` with `digits` in its placeholders; `None` when the
/// counts disagree (a damaged row).
pub(crate) fn render(shape: &[u8], digits: &[Num]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(shape.len() + digits.len() * 4);
    let mut next = digits.iter();
    for part in shape.split_inclusive(|&b| b == PLACEHOLDER) {
        match part.split_last() {
            Some((&PLACEHOLDER, text)) => {
                out.extend_from_slice(text);
                next.next()?.render(&mut out);
            }
            _ => out.extend_from_slice(part),
        }
    }
    next.next().is_none().then_some(out)
}

/// How many placeholders a shape has.
pub(crate) fn placeholders(shape: &[u8]) -> usize {
    shape.iter().filter(|&&b| b == PLACEHOLDER).count()
}

/// `value << 2 | tag`: tag 0 an integer, 1 an integer with leading zeros
/// (their count follows), 2 a float (its 8 bytes follow).
fn digits(n: Num, out: &mut Vec<u8>) {
    match n {
        Num::Int { value, zeros: 0 } => varint(value << 2, out),
        Num::Int { value, zeros } => {
            varint((value << 2) | 1, out);
            out.push(zeros);
        }
        Num::Float(bits) => {
            varint(2, out);
            out.extend_from_slice(&bits.to_le_bytes());
        }
    }
}

fn read_digits(input: &mut &[u8]) -> Option<Num> {
    let code = read_varint(input)?;
    let mut byte = || {
        let (&z, rest) = input.split_first()?;
        *input = rest;
        Some(z)
    };
    match code & 3 {
        0 => Some(Num::Int {
            value: code >> 2,
            zeros: 0,
        }),
        1 => Some(Num::Int {
            value: code >> 2,
            zeros: byte()?,
        }),
        2 => {
            let mut bits = [0u8; 8];
            for b in &mut bits {
                *b = byte()?;
            }
            Some(Num::Float(u64::from_le_bytes(bits)))
        }
        _ => None,
    }
}

fn text(s: &str, out: &mut Vec<u8>) {
    varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

fn read_text(input: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(read_varint(input)?).ok()?;
    let (bytes, rest) = input.split_at_checked(len)?;
    *input = rest;
    String::from_utf8(bytes.to_vec()).ok()
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A fast non-cryptographic hash (FxHash's mixing, eight bytes a step) for
/// the writer's in-memory maps: a shape is ~1–2 KB, and SipHash over it
/// would cost more than the rest of the lookup. Keys are the gateway's own
/// output, not attacker-chosen text, so flooding is not a concern.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

/// A `HashMap` hasher builder for [`FastHasher`].
pub(crate) type FastBuild = BuildHasherDefault<FastHasher>;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_word_search_finds_the_first_digit(
            head in proptest::collection::vec(proptest::sample::select(b"ab -\"z/:\x00\x7f\x80\xb0\xb9\xff".to_vec()), 0..70),
            tail in proptest::collection::vec(proptest::sample::select(b"a 0-9/:\xb0\xb9".to_vec()), 0..20),
        ) {
            let bytes = [head, tail].concat();
            let naive = bytes.iter().position(u8::is_ascii_digit).unwrap_or(bytes.len());
            proptest::prop_assert_eq!(first_digit(&bytes), naive);
        }
    }

    #[test]
    fn a_shape_renders_back_byte_for_byte() {
        let value = serde_json::json!({
            "a": "gpt-4o 007 \"12\" 000 123456789012345678901 \u{1}",
            "n": 7, "f": 0.0012, "g": -3.5000000000000004e-5, "i": -12,
            "big": u64::MAX, "e": 4.8e-6, "z": 0,
        });
        let json = serde_json::to_vec(&value).unwrap();
        let (mut shape, mut digits) = (Vec::new(), Vec::new());
        split(&value, &mut shape, &mut digits).unwrap();
        assert!(shape.windows(21).any(|w| w == b"123456789012345678901"));
        // 4, 007, 12, 000 in the string; n, f, g, i, e, z (big stays).
        assert_eq!(digits.len(), 10, "{digits:?}");
        assert_eq!(placeholders(&shape), digits.len());
        assert_eq!(render(&shape, &digits).unwrap(), json);
        assert!(render(&shape, &digits[1..]).is_none());
    }

    #[test]
    fn values_encode_as_the_difference_from_their_shape() {
        let base = Values {
            digits: vec![
                Num::int(b"12"),
                Num::int(b"007"),
                Num::Float(1.5f64.to_bits()),
            ],
            signals: vec!["acme".into(), "s-1".into()],
        };
        let mut all = Vec::new();
        base.encode_all(&mut all);
        assert_eq!(Values::decode_all(&all).unwrap(), base);
        let mut next = base.clone();
        next.digits[0] = Num::int(b"99999");
        next.signals[1] = "s-2".into();
        let mut diff = Vec::new();
        next.encode_diff(&base, &mut diff);
        assert!(diff.len() < 10, "{diff:?}");
        assert_eq!(Values::decode_diff(&base, &diff).unwrap(), next);
        base.encode_diff(&base, &mut diff);
        assert_eq!(diff, [0], "nothing differs: the mask alone");
        assert!(Values::decode_diff(&base, &[]).is_none());
    }
}
