//! Owns payment card numbers: 13–19 digits, contiguous or in groups of 3–6
//! separated by one consistent space or dash, a major-network first digit
//! (2–6) and a valid Luhn checksum.

use super::bytes::{digits_at, number_ends};

const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;

/// The end of a card number starting at `start`, if there is one.
pub(crate) fn card_at(b: &[u8], start: usize) -> Option<usize> {
    let mut digits = [0u8; MAX_DIGITS];
    let mut count = 0;
    // (end offset, digit count) after each group, longest candidate last.
    let mut ends = [(0usize, 0usize); MAX_DIGITS];
    let mut groups = 0;
    let mut sep = None;
    let mut pos = start;
    loop {
        let len = digits_at(b, pos);
        let group_sized = (3..=6).contains(&len);
        // A first group too long for a group is a contiguous number; later
        // groups must look like groups.
        if count + len > MAX_DIGITS || (groups > 0 && !group_sized) {
            break;
        }
        for (slot, digit) in digits[count..count + len]
            .iter_mut()
            .zip(&b[pos..pos + len])
        {
            *slot = digit - b'0';
        }
        count += len;
        pos += len;
        ends[groups] = (pos, count);
        groups += 1;
        match b.get(pos) {
            Some(&s @ (b' ' | b'-'))
                if group_sized && sep.is_none_or(|prev| prev == s) && digits_at(b, pos + 1) > 0 =>
            {
                sep = Some(s);
                pos += 1;
            }
            _ => break,
        }
    }
    ends[..groups].iter().rev().find_map(|&(end, n)| {
        let number = &digits[..n];
        let valid = (MIN_DIGITS..=MAX_DIGITS).contains(&n)
            && (2..=6).contains(&number[0])
            && luhn(number)
            && number_ends(b, end);
        valid.then_some(end)
    })
}

/// The Luhn (mod 10) checksum over digit values.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(text: &str) -> Option<&str> {
        card_at(text.as_bytes(), 0).map(|end| &text[..end])
    }

    #[test]
    fn accepts_valid_numbers_in_common_layouts() {
        assert_eq!(card("4111 1111 1111 1111"), Some("4111 1111 1111 1111"));
        assert_eq!(card("4111-1111-1111-1111."), Some("4111-1111-1111-1111"));
        assert_eq!(card("5555555555554444 ok"), Some("5555555555554444"));
        assert_eq!(card("3782 822463 10005"), Some("3782 822463 10005"));
    }

    #[test]
    fn rejects_bad_checksums_prefixes_and_mixed_layouts() {
        assert_eq!(card("4111 1111 1111 1112"), None);
        assert_eq!(card("1234567890123452"), None, "first digit 1");
        assert_eq!(card("4111 1111-1111 1111"), None);
        assert_eq!(card("41111111111111112"), None);
        assert_eq!(card("4111111111111111x"), None);
    }

    #[test]
    fn stops_before_a_trailing_group() {
        assert_eq!(
            card("4111 1111 1111 1111 2024"),
            Some("4111 1111 1111 1111")
        );
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
