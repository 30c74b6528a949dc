//! Owns e-mail addresses, found from each `@` (memchr) by expanding left over
//! local-part characters and right over dot-separated domain labels, with an
//! alphabetic top-level domain that is not a file extension (`icon@2x.png`).

use memchr::memchr_iter;

use super::bytes::is_word;

const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"css", b"js", b"ts", b"json",
];

/// Every e-mail address in `text`, as byte ranges.
pub(crate) fn scan_emails(text: &str, out: &mut impl FnMut(usize, usize)) {
    let b = text.as_bytes();
    let mut resume = 0;
    for at in memchr_iter(b'@', b) {
        if at < resume {
            continue;
        }
        if let Some((start, end)) = email_around(b, at) {
            out(start, end);
            resume = end;
        }
    }
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn email_around(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at
        - b[..at]
            .iter()
            .rev()
            .take_while(|c| is_local(**c))
            .take(65)
            .count();
    if at - start > 64 {
        return None;
    }
    while start < at && b[start] == b'.' {
        start += 1;
    }
    if start == at || b[at - 1] == b'.' {
        return None;
    }
    let (end, labels, tld) = domain(b, at + 1)?;
    let tld_ok = (2..=24).contains(&tld.len())
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !FILE_EXTENSIONS
            .iter()
            .any(|ext| tld.eq_ignore_ascii_case(ext));
    let after_ok = b.get(end).is_none_or(|c| !is_word(*c) && *c != b'@');
    (labels >= 2 && tld_ok && after_ok).then_some((start, end))
}

/// Parses `label(.label)*` from `pos`: (end, label count, last label).
fn domain(b: &[u8], mut pos: usize) -> Option<(usize, usize, &[u8])> {
    let mut labels = 0;
    let mut last = (pos, pos);
    loop {
        let len = b
            .get(pos..)?
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
            .take(63)
            .count();
        let label = &b[pos..pos + len];
        if len == 0 || label.starts_with(b"-") || label.ends_with(b"-") {
            break;
        }
        labels += 1;
        last = (pos, pos + len);
        pos += len;
        let more =
            b.get(pos) == Some(&b'.') && b.get(pos + 1).is_some_and(u8::is_ascii_alphanumeric);
        if !more {
            break;
        }
        pos += 1;
    }
    (labels > 0).then(|| (last.1, labels, &b[last.0..last.1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        scan_emails(text, &mut |s, e| found.push(&text[s..e]));
        found
    }

    #[test]
    fn finds_addresses_in_prose() {
        assert_eq!(
            emails("Mail jane.doe@example.com, or ops+alerts@mail.corp.example.co.uk."),
            ["jane.doe@example.com", "ops+alerts@mail.corp.example.co.uk"]
        );
        assert_eq!(emails("<j_smith@acme.io>"), ["j_smith@acme.io"]);
    }

    #[test]
    fn ignores_handles_assets_and_versions() {
        assert!(emails("ping @alice and @bob").is_empty());
        assert!(emails("logo icon@2x.png and pkg@1.2.3").is_empty());
        assert!(emails("user@localhost").is_empty());
        assert!(emails("a@b.c").is_empty());
    }
}
