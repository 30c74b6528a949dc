//! Owns telephone numbers. Accepted shapes:
//! - international: `+` and a 1–3 digit country code, then groups separated
//!   by single spaces, dashes or dots, optionally one parenthesised group
//!   (`+44 (0)20 7946 0958`, `+1-415-555-0132`), 8–15 digits; or `+` and
//!   10–15 contiguous digits; or `00` instead of `+`;
//! - North American: `(415) 555-0132`, `415-555-0132`, `1 415 555 0132`
//!   (area and exchange codes start with 2–9);
//! - national with trunk prefix `0`: `020 7946 0958`, `07700 900123`, 9–12
//!   digits in groups of at least two.
//!
//! Separators are required for national forms, which keeps order numbers,
//! dates and versions out.

use super::bytes::number_ends;

const MAX_GROUPS: usize = 8;
const MAX_DIGITS: usize = 17;

/// The groups of a candidate number, as parsed.
#[derive(Clone, Copy)]
struct Groups {
    lens: [usize; MAX_GROUPS],
    count: usize,
    digits: [u8; MAX_DIGITS],
    total: usize,
    /// A dot separates two groups.
    dots: bool,
    /// A space or dash separates two groups.
    other_seps: bool,
    end: usize,
    /// End offset after each group.
    ends: [usize; MAX_GROUPS],
    /// Separator before each group (0 for none).
    seps: [u8; MAX_GROUPS],
}

impl Groups {
    /// The first `count` groups only.
    fn truncated(&self, count: usize) -> Self {
        let mut g = *self;
        g.count = count;
        g.total = self.lens[..count].iter().sum();
        g.end = self.ends[count - 1];
        g.dots = self.seps[..count].contains(&b'.');
        g.other_seps = self.seps[..count].iter().any(|s| matches!(s, b' ' | b'-'));
        g
    }
}

/// The end of a phone number starting at `start` (`+`, `(` or a digit).
pub(crate) fn phone_at(b: &[u8], start: usize) -> Option<usize> {
    let plus = b.get(start) == Some(&b'+');
    let all = groups(b, start + usize::from(plus))?;
    // The longest valid prefix of the groups: a number may be followed by
    // another (`+44 20 7946 0958 4111 1111 …`).
    (1..=all.count)
        .rev()
        .map(|count| all.truncated(count))
        .find_map(|g| {
            let valid = if plus {
                international(&g, 0)
            } else if g.digits[..2] == [0, 0] {
                international(&g, 2)
            } else {
                north_american(&g) || trunk_national(&g)
            };
            (valid && number_ends(b, g.end)).then_some(g.end)
        })
}

fn groups(b: &[u8], mut pos: usize) -> Option<Groups> {
    let mut g = Groups {
        lens: [0; MAX_GROUPS],
        count: 0,
        digits: [0; MAX_DIGITS],
        total: 0,
        dots: false,
        other_seps: false,
        end: pos,
        ends: [0; MAX_GROUPS],
        seps: [0; MAX_GROUPS],
    };
    let mut sep_before = 0;
    let mut paren_used = false;
    while g.count < MAX_GROUPS {
        let paren = b.get(pos) == Some(&b'(') && !paren_used;
        let digits_from = pos + usize::from(paren);
        let len = b
            .get(digits_from..)?
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let closed = !paren || b.get(digits_from + len) == Some(&b')');
        if len == 0 || !closed || g.total + len > MAX_DIGITS {
            break;
        }
        for (slot, d) in g.digits[g.total..g.total + len]
            .iter_mut()
            .zip(&b[digits_from..digits_from + len])
        {
            *slot = d - b'0';
        }
        g.lens[g.count] = len;
        g.seps[g.count] = sep_before;
        g.total += len;
        pos = digits_from + len + usize::from(paren);
        g.ends[g.count] = pos;
        g.count += 1;
        g.end = pos;
        paren_used |= paren;
        // One separator, or none right after a closing parenthesis.
        let sep = b.get(pos).copied();
        let next = match sep {
            Some(b' ' | b'-' | b'.') => pos + 1,
            _ if paren => pos,
            _ => break,
        };
        let continues = b
            .get(next)
            .is_some_and(|c| c.is_ascii_digit() || (*c == b'(' && !paren_used));
        if !continues {
            break;
        }
        sep_before = if next > pos { sep.unwrap_or(0) } else { 0 };
        pos = next;
    }
    (g.count > 0).then_some(g)
}

/// After `skip` prefix digits (`00`), a country code and subscriber number.
fn international(g: &Groups, skip: usize) -> bool {
    let (Some(total), Some(country_len)) = (g.total.checked_sub(skip), g.lens[0].checked_sub(skip))
    else {
        return false;
    };
    if g.digits.get(skip).is_none_or(|first| *first == 0) {
        return false;
    }
    if g.count == 1 {
        return skip == 0 && (10..=15).contains(&total);
    }
    (1..=3).contains(&country_len) && (8..=15).contains(&total) && !(g.dots && g.other_seps)
}

fn north_american(g: &Groups) -> bool {
    let lens = &g.lens[..g.count];
    let offset = match lens {
        [3, 3, 4] => 0,
        [1, 3, 3, 4] if g.digits[0] == 1 => 1,
        _ => return false,
    };
    let area = g.digits[offset];
    let exchange = g.digits[offset + 3];
    area >= 2 && exchange >= 2 && !(g.dots && g.other_seps)
}

fn trunk_national(g: &Groups) -> bool {
    g.digits[0] == 0
        && g.digits[1] != 0
        && (9..=12).contains(&g.total)
        && (2..=5).contains(&g.count)
        && g.lens[..g.count].iter().all(|&len| len >= 2)
        && !(g.dots && g.other_seps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(text: &str) -> Option<&str> {
        phone_at(text.as_bytes(), 0).map(|end| &text[..end])
    }

    #[test]
    fn accepts_international_and_national_forms() {
        for text in [
            "+44 20 7946 0958",
            "+1-415-555-0132",
            "+1 (415) 555-0132",
            "+44 (0)20 7946 0958",
            "+442079460958",
            "+33 1 23 45 67 89",
            "0044 20 7946 0958",
            "(415) 555-0132",
            "415-555-0132",
            "415.555.0132",
            "1 415 555 0132",
            "020 7946 0958",
            "07700 900123",
        ] {
            assert_eq!(phone(text), Some(text), "{text}");
        }
        assert_eq!(phone("415-555-0132."), Some("415-555-0132"));
        assert_eq!(
            phone("+44 20 7946 0958 4111 1111"),
            Some("+44 20 7946 0958")
        );
        assert_eq!(phone("415 555 0132 2024"), Some("415 555 0132"));
    }

    #[test]
    fn rejects_dates_versions_and_plain_numbers() {
        for text in [
            "2024-01-15",
            "15.01.2024",
            "1.22.0",
            "4155550132",
            "12345-67890",
            "115-555-0132",
            "415-155-0132",
            "555-0132",
            "192.168.100.200",
            "+0 123 456 789",
            "415-555-0132-7",
            "0.5 1.5 2.5 3.5",
        ] {
            assert_eq!(phone(text), None, "{text}");
        }
    }
}
