use proptest::prelude::*;

use super::*;
use crate::tokens::{O200k, TokenCounter, warm};

/// The count of `text` summed over its segments.
fn segmented(text: &str, group: usize, run_cap: usize) -> usize {
    Segments::with_sizes(text, group, run_cap)
        .map(|(segment, _)| O200k.count(segment))
        .sum()
}

#[test]
fn segments_concatenate_to_the_text() {
    let text = "Hello, world! It's 2026.\n\n東京は、晴れ。  x\ty 😀😀 naïve";
    for group in [1, 3, 8, 1000] {
        for run_cap in [1, 2, 5, 96] {
            let joined: String = Segments::with_sizes(text, group, run_cap)
                .map(|(s, _)| s)
                .collect();
            assert_eq!(joined, text, "group {group}, run_cap {run_cap}");
        }
    }
    assert_eq!(Segments::new("").count(), 0);
}

#[test]
fn natural_boundaries() {
    let cuts = |text: &str| -> Vec<usize> {
        (0..=text.len())
            .filter(|&i| is_natural_boundary(text, i))
            .collect()
    };
    // Before a space or tab that follows a non-space; not inside a run of
    // spaces, not at the start.
    assert_eq!(cuts("a b  c\td"), vec![1, 3, 6]);
    assert_eq!(cuts("  a"), Vec::<usize>::new());
    // Letter or digit, then ASCII punctuation other than the apostrophe.
    assert_eq!(cuts("f(x)=1;it's"), vec![1, 3, 6]);
    // A CJK letter before CJK punctuation; not after other punctuation.
    assert_eq!(cuts("東京、晴れ。。"), vec![6, 15]);
    // Not after a non-breaking space (Unicode whitespace).
    assert_eq!(cuts("a\u{a0} b"), Vec::<usize>::new());
}

#[test]
fn runs_without_boundaries_are_cut_at_the_cap() {
    let run = "x".repeat(1000);
    let segments: Vec<_> = Segments::new(&run).collect();
    assert!(segments.iter().all(|(s, _)| s.len() <= RUN_CAP));
    assert_eq!(segments.len(), 1000usize.div_ceil(RUN_CAP));
    assert_eq!(segments.last().map(|(_, c)| *c), Some(Cut::End));
    assert!(
        segments[..segments.len() - 1]
            .iter()
            .all(|(_, c)| *c == Cut::Hard)
    );
    // Cuts fall on character boundaries (4-byte emoji).
    let emoji = "😀".repeat(100);
    for (segment, _) in Segments::new(&emoji) {
        assert!(segment.len() <= RUN_CAP + 3);
        assert_eq!(segment.len() % 4, 0);
    }
}

#[test]
fn prose_is_grouped_at_natural_boundaries() {
    let text = "All work and no play makes Jack a dull boy. ".repeat(2000);
    let segments: Vec<_> = Segments::new(&text).collect();
    assert!(segments.len() > 1);
    for (segment, cut) in &segments {
        assert_ne!(*cut, Cut::Hard);
        assert!(segment.len() <= GROUP + 64);
    }
}

#[test]
fn natural_cuts_keep_the_count_on_samples() {
    assert!(warm());
    let samples = [
        "The quick brown fox jumps over the lazy dog. It's 3.14159, isn't it?",
        "fn main() {\n    let x = vec![1, 2, 3];\n    println!(\"{x:?}\");\n}\n",
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "東京は晴れ、大阪は雨。明日はどうでしょうか？私は知りません！",
        "안녕하세요, 세계. Привет, мир! Straße café naïve résumé",
        "https://example.invalid/a/b?c=d&e=f#g  tabs\there\t\tand  spaces   end",
        "😀 emoji 🚀🚀 mixed 😀😀😀 with text",
    ];
    for text in samples {
        let whole = O200k.count(text);
        for group in [1, 2, 5, 16] {
            assert_eq!(
                segmented(text, group, usize::MAX),
                whole,
                "{text:?}, group {group}"
            );
        }
    }
}

/// Text mixing every character class the boundary rules reason about.
fn mixed_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\u{a0}",
        "\u{3000}",
        "a",
        "Z",
        "word",
        "Word",
        "WORD",
        "1",
        "42",
        "12345",
        ".",
        ",",
        "'",
        "'s",
        "'LL",
        "!",
        "/",
        "(",
        ")",
        "\"",
        "-",
        "_",
        "東",
        "京",
        "は",
        "データ",
        "、",
        "。",
        "，",
        "！",
        "？",
        "：",
        "é",
        "\u{301}",
        "ß",
        "😀",
        "🚀",
        "«",
        "»",
        "—",
        "€",
        "٣",
        "Ⅻ",
        "ǅ",
        "ʰ",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Natural cuts are places where the tokenizer cuts anyway: counting
    /// segment by segment gives exactly the whole text's count.
    #[test]
    fn natural_cuts_never_change_the_count(text in mixed_text(), group in 1usize..12) {
        prop_assert!(warm());
        prop_assert_eq!(segmented(&text, group, usize::MAX), O200k.count(&text));
    }

    /// Every segment is bounded: at most `group` bytes plus one run.
    #[test]
    fn segments_are_bounded(text in mixed_text(), group in 1usize..40, run_cap in 1usize..40) {
        for (segment, cut) in Segments::with_sizes(&text, group, run_cap) {
            prop_assert!(segment.len() <= group + run_cap + 3, "{segment:?} {cut:?}");
        }
    }
}
