//! Owns detection: finding sensitive spans in a text, without overlaps.
//!
//! One pass over the bytes splits the text into *runs* of
//! `[A-Za-z0-9_+/-]`. Ordinary words cost one table lookup per byte and one
//! first-byte check per run; only a run starting with a digit or `+` is
//! offered to the numeric validators (IPv4, card, SSN, phone), a run
//! starting with two capitals and two digits to IBAN, and a long or
//! known-prefix run to the secret validators. E-mail and IPv6 are found
//! from their anchor bytes (`@`, `:`) with memchr. Tenant regexes and
//! dictionaries run as one `RegexSet` and one Aho-Corasick automaton.
//! Overlaps are resolved last: the class priority wins (`DataClass::ALL`
//! order, then custom classes in spec order), then the earliest start,
//! then the longest span.

mod bytes;
mod card;
mod custom;
mod email;
mod iban;
mod ip;
mod phone;
mod secret;
mod ssn;

use std::cmp::Reverse;

use signalbox_core::privacy_spec::PatternClass;

use crate::{DataClass, EntropySpec};

pub(crate) use custom::{DictionaryDetector, RegexDetector};

/// Identifies a class within one compiled profile: built-in classes first,
/// then custom patterns and dictionaries in spec order. Lower is higher priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassId(u16);

impl ClassId {
    /// The id of a built-in class (the same in every profile).
    #[must_use]
    pub const fn builtin(class: DataClass) -> Self {
        Self(match class {
            DataClass::Secret => 0,
            DataClass::Card => 1,
            DataClass::Iban => 2,
            DataClass::NationalId => 3,
            DataClass::Email => 4,
            DataClass::Ip => 5,
            DataClass::Phone => 6,
        })
    }

    /// Number of built-in ids; custom ids follow.
    pub(crate) const BUILTIN_COUNT: usize = DataClass::ALL.len();

    /// The id a checked spec gave a tenant regex or term.
    pub(crate) const fn of(class: PatternClass) -> Self {
        match class {
            PatternClass::NationalId => Self::builtin(DataClass::NationalId),
            PatternClass::Named(index) => Self(index),
        }
    }

    /// Position in the profile's class table.
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A detected span: byte offsets into the scanned text and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Which class matched.
    pub class: ClassId,
}

/// The compiled detectors of one profile.
pub(crate) struct Detectors {
    /// Built-in classes switched on, by `ClassId` index.
    pub(crate) on: [bool; ClassId::BUILTIN_COUNT],
    pub(crate) us_ssn: bool,
    pub(crate) entropy: Option<EntropySpec>,
    pub(crate) regexes: Option<RegexDetector>,
    pub(crate) dictionaries: Option<DictionaryDetector>,
}

const EMAIL: ClassId = ClassId::builtin(DataClass::Email);
const PHONE: ClassId = ClassId::builtin(DataClass::Phone);
const CARD: ClassId = ClassId::builtin(DataClass::Card);
const IBAN: ClassId = ClassId::builtin(DataClass::Iban);
const IP: ClassId = ClassId::builtin(DataClass::Ip);
const NATIONAL_ID: ClassId = ClassId::builtin(DataClass::NationalId);
const SECRET: ClassId = ClassId::builtin(DataClass::Secret);

/// A numeric validator: the end of its value starting at the given offset.
type Validator = fn(&[u8], usize) -> Option<usize>;

/// Bytes that make up a run.
const RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'/' | b'-');
        i += 1;
    }
    table
};

impl Detectors {
    fn is_on(&self, class: ClassId) -> bool {
        self.on.get(class.index()).copied().unwrap_or(false)
    }

    /// Fills `out` with the non-overlapping findings in `text`, in order.
    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        out.clear();
        let mut push = |start, end, class| out.push(Finding { start, end, class });
        if self.is_on(EMAIL) {
            email::scan_emails(text, &mut |s, e| push(s, e, EMAIL));
        }
        if self.is_on(IP) {
            ip::scan_ipv6(text, &mut |s, e| push(s, e, IP));
        }
        self.scan_runs(text.as_bytes(), &mut push);
        if let Some(regexes) = &self.regexes {
            regexes.scan(text, &mut push);
        }
        if let Some(dictionaries) = &self.dictionaries {
            dictionaries.scan(text, &mut push);
        }
        resolve_overlaps(out);
    }

    fn scan_runs(&self, b: &[u8], push: &mut impl FnMut(usize, usize, ClassId)) {
        let numeric = self.is_on(CARD) || self.is_on(PHONE) || self.is_on(IP) || self.us_ssn_on();
        let iban = self.is_on(IBAN);
        let secret = self.is_on(SECRET);
        if !(numeric || iban || secret) {
            return;
        }
        let entropy = self.entropy.as_ref();
        let n = b.len();
        let mut i = 0;
        while i < n {
            let first = b[i];
            // A run never starts with `/`, so `https://ghp_…` starts at `g`.
            if !RUN[usize::from(first)] || first == b'/' {
                i += 1;
                continue;
            }
            let start = i;
            i += 1;
            while i < n && RUN[usize::from(b[i])] {
                i += 1;
            }
            // Cheap first-byte and length checks keep ordinary words out of the validators.
            let found = if numeric && (first.is_ascii_digit() || first == b'+') {
                self.numeric_at(b, start)
            } else if iban
                && first.is_ascii_uppercase()
                && i - start >= 4
                && iban::plausible(b, start)
            {
                iban::iban_at(b, start).map(|end| (start, end, IBAN))
            } else {
                None
            };
            let found = found.or_else(|| {
                (secret && i - start >= secret::MIN_RUN)
                    .then(|| secret::secret_at(b, start, i, entropy))
                    .flatten()
                    .map(|end| (start, end, SECRET))
            });
            if let Some((s, e, class)) = found {
                push(s, e, class);
                i = i.max(e);
            }
        }
    }

    fn us_ssn_on(&self) -> bool {
        self.us_ssn && self.is_on(NATIONAL_ID)
    }

    /// Numeric validators at a run starting with a digit or `+`, in priority order.
    fn numeric_at(&self, b: &[u8], start: usize) -> Option<(usize, usize, ClassId)> {
        if b[start] == b'+' {
            let ok = self.is_on(PHONE) && bytes::number_starts(b, start);
            return ok
                .then(|| phone::phone_at(b, start))
                .flatten()
                .map(|e| (start, e, PHONE));
        }
        let paren = start.checked_sub(1).filter(|&p| b[p] == b'(');
        if let Some(open) = paren.filter(|&p| self.is_on(PHONE) && bytes::number_starts(b, p))
            && let Some(end) = phone::phone_at(b, open)
        {
            return Some((open, end, PHONE));
        }
        if !bytes::number_starts(b, start) || !bytes::may_be_value(b, start) {
            return None;
        }
        let validators: [(bool, Validator, ClassId); 4] = [
            (self.is_on(IP), ip::ipv4_at, IP),
            (self.is_on(CARD), card::card_at, CARD),
            (self.us_ssn_on(), ssn::ssn_at, NATIONAL_ID),
            (self.is_on(PHONE), phone::phone_at, PHONE),
        ];
        validators
            .iter()
            .filter(|(on, _, _)| *on)
            .find_map(|(_, at, class)| at(b, start).map(|end| (start, end, *class)))
    }
}

/// Keeps, among overlapping findings, the one of the highest-priority class
/// (then the earliest, then the longest), and returns the keepers in text order.
fn resolve_overlaps(findings: &mut Vec<Finding>) {
    if findings.len() < 2 {
        return;
    }
    findings.sort_unstable_by_key(|f| (f.class, f.start, Reverse(f.end)));
    let mut kept: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings.drain(..) {
        // `kept` is sorted by start and free of overlaps: check both neighbours.
        let at = kept.partition_point(|k| k.start < f.start);
        let clear_before = at == 0 || kept[at - 1].end <= f.start;
        let clear_after = kept.get(at).is_none_or(|k| f.end <= k.start);
        if clear_before && clear_after {
            kept.insert(at, f);
        }
    }
    *findings = kept;
}

#[cfg(test)]
mod tests;
