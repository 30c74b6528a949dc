//! Owns the built-in US Social Security Number detector: `AAA-GG-SSSS`,
//! excluding numbers the SSA never issues: area 000, 666 or 900–999, group
//! 00, serial 0000. Unformatted or space-separated forms are left alone:
//! without dashes they are indistinguishable from order numbers and counts.

use super::bytes::{digits_at, number_ends};

/// The end of an SSN starting at `start`, if there is one.
pub(crate) fn ssn_at(b: &[u8], start: usize) -> Option<usize> {
    if b.get(start + 3) != Some(&b'-')
        || digits_at(b, start) != 3
        || digits_at(b, start + 4) != 2
        || b.get(start + 6) != Some(&b'-')
        || digits_at(b, start + 7) != 4
    {
        return None;
    }
    let end = start + 11;
    let area = number(&b[start..start + 3]);
    let group = number(&b[start + 4..start + 6]);
    let serial = number(&b[start + 7..end]);
    let issued = area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
    (issued && number_ends(b, end)).then_some(end)
}

fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssn(text: &str) -> Option<&str> {
        ssn_at(text.as_bytes(), 0).map(|end| &text[..end])
    }

    #[test]
    fn accepts_issued_numbers() {
        assert_eq!(ssn("536-22-1234,"), Some("536-22-1234"));
    }

    #[test]
    fn rejects_never_issued_and_lookalikes() {
        for text in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "536-00-1234",
            "536-22-0000",
            "536-22-12345",
            "536-22 1234",
            "536 22 1234",
            "2024-01-15",
        ] {
            assert_eq!(ssn(text), None, "{text}");
        }
    }
}
