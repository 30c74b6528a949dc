//! Owns IBANs: a known country code, the country's exact length, upper-case
//! letters and digits, optionally printed in groups of four separated by
//! single spaces, and the ISO 7064 mod-97 checksum.

use super::bytes::is_word;

/// IBAN lengths by country (SWIFT IBAN registry).
#[rustfmt::skip]
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20),
    (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BR", 29), (b"BY", 28), (b"CH", 21),
    (b"CR", 22), (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DK", 18), (b"DO", 28),
    (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18), (b"FO", 18), (b"FR", 27),
    (b"GB", 22), (b"GE", 22), (b"GI", 23), (b"GL", 18), (b"GR", 27), (b"GT", 28),
    (b"HR", 21), (b"HU", 28), (b"IE", 22), (b"IL", 23), (b"IQ", 23), (b"IS", 26),
    (b"IT", 27), (b"JO", 30), (b"KW", 30), (b"KZ", 20), (b"LB", 28), (b"LC", 32),
    (b"LI", 21), (b"LT", 20), (b"LU", 20), (b"LV", 21), (b"MC", 27), (b"MD", 24),
    (b"ME", 22), (b"MK", 19), (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NL", 18),
    (b"NO", 15), (b"PK", 24), (b"PL", 28), (b"PS", 29), (b"PT", 25), (b"QA", 29),
    (b"RO", 24), (b"RS", 22), (b"SA", 24), (b"SC", 31), (b"SE", 24), (b"SI", 19),
    (b"SK", 24), (b"SM", 27), (b"ST", 25), (b"SV", 28), (b"TL", 23), (b"TN", 24),
    (b"TR", 26), (b"UA", 29), (b"VA", 22), (b"VG", 24), (b"XK", 20),
];

const MAX_LEN: usize = 34;

/// Two capitals then two digits: worth a registry lookup.
pub(crate) fn plausible(b: &[u8], start: usize) -> bool {
    matches!(b.get(start..start + 4), Some([c1, c2, d1, d2])
        if c1.is_ascii_uppercase() && c2.is_ascii_uppercase() && d1.is_ascii_digit() && d2.is_ascii_digit())
}

/// The end of an IBAN starting at `start`, if there is one.
pub(crate) fn iban_at(b: &[u8], start: usize) -> Option<usize> {
    let country = b.get(start..start + 2)?;
    let &(_, len) = LENGTHS
        .iter()
        .find(|(code, _)| code.as_slice() == country)?;
    let mut chars = [0u8; MAX_LEN];
    let mut count = 0;
    let mut pos = start;
    while count < len {
        let c = *b.get(pos)?;
        if c == b' ' && count > 0 && count % 4 == 0 && pos > start && b[pos - 1] != b' ' {
            pos += 1;
            continue;
        }
        if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return None;
        }
        chars[count] = c;
        count += 1;
        pos += 1;
    }
    let checked = chars[2].is_ascii_digit() && chars[3].is_ascii_digit();
    let ends = b.get(pos).is_none_or(|c| !is_word(*c));
    (checked && ends && mod97(&chars[..len]) == 1).then_some(pos)
}

/// ISO 7064 mod-97-10 over the rearranged IBAN (first four characters moved
/// to the end, letters as 10–35).
fn mod97(iban: &[u8]) -> u32 {
    let (head, tail) = iban.split_at(4);
    tail.iter().chain(head).fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            (acc * 10 + u32::from(c - b'0')) % 97
        } else {
            (acc * 100 + u32::from(c - b'A') + 10) % 97
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iban(text: &str) -> Option<&str> {
        iban_at(text.as_bytes(), 0).map(|end| &text[..end])
    }

    #[test]
    fn accepts_valid_ibans_grouped_or_not() {
        assert_eq!(
            iban("GB82 WEST 1234 5698 7654 32."),
            Some("GB82 WEST 1234 5698 7654 32")
        );
        assert_eq!(
            iban("GB82WEST12345698765432"),
            Some("GB82WEST12345698765432")
        );
        assert_eq!(
            iban("DE89 3704 0044 0532 0130 00"),
            Some("DE89 3704 0044 0532 0130 00")
        );
        assert_eq!(iban("NO9386011117947"), Some("NO9386011117947"));
    }

    #[test]
    fn rejects_bad_checksum_length_or_country() {
        assert_eq!(iban("GB82 WEST 1234 5698 7654 33"), None);
        assert_eq!(iban("GB82 WEST 1234 5698 7654"), None);
        assert_eq!(iban("GB82WEST123456987654321"), None);
        assert_eq!(iban("ZZ82WEST12345698765432"), None);
        assert_eq!(iban("gb82west12345698765432"), None);
    }
}
