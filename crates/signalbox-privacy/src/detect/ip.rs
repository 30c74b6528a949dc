//! Owns IP addresses. IPv4 is found from the numeric scan (four dotted
//! octets 0–255, no leading zeros); IPv6 from each `:` by expanding over hex
//! digits, colons and dots and asking `std::net` to parse the span.

use std::net::Ipv6Addr;

use memchr::memchr_iter;

use super::bytes::is_word;

/// The end of an IPv4 address starting at `start`, if there is one.
pub(crate) fn ipv4_at(b: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    for octet in 0..4 {
        if octet > 0 {
            if b.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let len = b
            .get(pos..)?
            .iter()
            .take(4)
            .take_while(|c| c.is_ascii_digit())
            .count();
        let digits = b.get(pos..pos + len)?;
        let value = digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        if len == 0 || len > 3 || value > 255 || (len > 1 && digits[0] == b'0') {
            return None;
        }
        pos += len;
    }
    // Unlike other numbers, `:port` may follow.
    let ends = b.get(pos).is_none_or(|c| !is_word(*c) && *c != b'@')
        && !(b.get(pos) == Some(&b'.') && b.get(pos + 1).is_some_and(u8::is_ascii_digit));
    ends.then_some(pos)
}

/// Every IPv6 address in `text`, as byte ranges.
pub(crate) fn scan_ipv6(text: &str, out: &mut impl FnMut(usize, usize)) {
    let b = text.as_bytes();
    let mut resume = 0;
    for colon in memchr_iter(b':', b) {
        if colon < resume {
            continue;
        }
        let is_part = |c: &u8| c.is_ascii_hexdigit() || *c == b':' || *c == b'.';
        let start = colon - b[..colon].iter().rev().take_while(|c| is_part(c)).count();
        let end = colon + b[colon..].iter().take_while(|c| is_part(c)).count();
        resume = end;
        if let Some((start, end)) = ipv6_span(b, start, end) {
            out(start, end);
        }
    }
}

/// Trims a candidate span and checks it is a plausible, valid IPv6 address.
fn ipv6_span(b: &[u8], start: usize, mut end: usize) -> Option<(usize, usize)> {
    // A sentence may end right after the address.
    while end > start && b[end - 1] == b'.' {
        end -= 1;
    }
    let before_ok = start == 0 || !is_word(b[start - 1]);
    let after_ok = b.get(end).is_none_or(|c| !is_word(*c));
    let span = std::str::from_utf8(b.get(start..end)?).ok()?;
    if !before_ok || !after_ok || span.len() < 6 {
        return None;
    }
    let groups: Vec<&str> = span.split(':').filter(|g| !g.is_empty()).collect();
    // `a::b`, `Foo::Bar`-like spans parse but are not worth flagging.
    let plausible = groups.len() >= 4 || (groups.len() >= 2 && groups.iter().any(|g| g.len() >= 3));
    (plausible && span.parse::<Ipv6Addr>().is_ok()).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Option<&str> {
        ipv4_at(text.as_bytes(), 0).map(|end| &text[..end])
    }

    fn v6(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        scan_ipv6(text, &mut |s, e| found.push(&text[s..e]));
        found
    }

    #[test]
    fn ipv4_valid_and_invalid() {
        assert_eq!(v4("192.168.1.20."), Some("192.168.1.20"));
        assert_eq!(v4("10.0.0.1:8080"), Some("10.0.0.1"));
        assert_eq!(v4("256.1.1.1"), None);
        assert_eq!(v4("1.2.3"), None);
        assert_eq!(v4("1.2.3.4.5"), None);
        assert_eq!(v4("01.2.3.4"), None);
    }

    #[test]
    fn ipv6_valid_and_lookalikes() {
        assert_eq!(
            v6("host 2001:db8::8a2e:370:7334 up"),
            ["2001:db8::8a2e:370:7334"]
        );
        assert_eq!(
            v6("gw fe80::1ff:fe23:4567:890a."),
            ["fe80::1ff:fe23:4567:890a"]
        );
        assert!(v6("at 10:30:00 use std::vec and a::b").is_empty());
        assert!(v6("mac 00:1A:2B:3C:4D:5E").is_empty());
    }
}
