//! Precision and recall per class on the labelled corpus (`tests/corpus/`).

#[path = "corpus/score.rs"]
mod score;

use std::path::Path;

const FLOOR: f64 = 0.95;

#[test]
fn every_class_meets_the_precision_and_recall_floor() {
    let profile = score::corpus_profile().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let report = score::score_dir(&dir, &profile).unwrap();
    assert!(
        report.lines > 100,
        "corpus too small: {} lines",
        report.lines
    );
    let expected = [
        "card",
        "customer",
        "email",
        "iban",
        "ip",
        "national-id",
        "phone",
        "secret",
        "ticket",
    ];
    assert_eq!(
        report
            .classes
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        expected
    );
    let below: Vec<String> = report
        .classes
        .iter()
        .filter(|(_, s)| s.precision() < FLOOR || s.recall() < FLOOR)
        .map(|(class, s)| {
            format!(
                "{class}: precision {:.3} recall {:.3}",
                s.precision(),
                s.recall()
            )
        })
        .collect();
    assert!(
        below.is_empty(),
        "below {FLOOR}: {below:#?}\nmistakes: {:#?}",
        report.misses
    );
}

#[test]
fn parses_labelled_lines() {
    let (text, spans) = score::parse_line("a [[email:x@y.io]] b [[ip:1.2.3.4]]");
    assert_eq!(text, "a x@y.io b 1.2.3.4");
    assert_eq!(
        spans,
        [("email".to_owned(), 2, 8), ("ip".to_owned(), 11, 18)]
    );
}
