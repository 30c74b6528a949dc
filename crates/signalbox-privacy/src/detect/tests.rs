use super::*;
use crate::{Action, PrivacyProfile, PrivacySpec};

fn labelled(text: &str) -> Vec<(String, &str)> {
    let profile = PrivacyProfile::compile(&PrivacySpec::all_builtin(Action::Redact)).unwrap();
    profile
        .find(text)
        .into_iter()
        .map(|f| (profile.label(f.class).to_owned(), &text[f.start..f.end]))
        .collect()
}

fn found<'a>(pairs: &[(&str, &'a str)]) -> Vec<(String, &'a str)> {
    pairs
        .iter()
        .map(|(class, value)| ((*class).to_owned(), *value))
        .collect()
}

#[test]
fn finds_every_builtin_class_in_one_text() {
    let text = "Jane (jane.doe@example.com, +44 20 7946 0958) paid with 4111 1111 1111 1111 \
                from GB82 WEST 1234 5698 7654 32; SSN 536-22-1234; host 10.0.0.12; \
                key AKIAIOSFODNN7EXAMPLE.";
    assert_eq!(
        labelled(text),
        found(&[
            ("email", "jane.doe@example.com"),
            ("phone", "+44 20 7946 0958"),
            ("card", "4111 1111 1111 1111"),
            ("iban", "GB82 WEST 1234 5698 7654 32"),
            ("national-id", "536-22-1234"),
            ("ip", "10.0.0.12"),
            ("secret", "AKIAIOSFODNN7EXAMPLE"),
        ])
    );
}

#[test]
fn parenthesised_phone_and_glued_numbers() {
    assert_eq!(
        labelled("call (415) 555-0132 now"),
        found(&[("phone", "(415) 555-0132")])
    );
    assert!(labelled("order #4111111111111111 and v4111 1111 1111 1111").is_empty());
    assert!(labelled("released 2024-01-15 as 1.22.0, build 20240115123").is_empty());
}

#[test]
fn overlaps_keep_the_highest_priority_class() {
    let f = |start, end, class| Finding {
        start,
        end,
        class: ClassId(class),
    };
    let mut findings = vec![
        f(5, 9, 3),
        f(0, 6, 4),
        f(0, 6, 1),
        f(9, 12, 0),
        f(2, 4, 0),
        f(20, 30, 6),
        f(22, 25, 6),
    ];
    resolve_overlaps(&mut findings);
    assert_eq!(
        findings,
        [f(2, 4, 0), f(5, 9, 3), f(9, 12, 0), f(20, 30, 6)]
    );
}

#[test]
fn a_secret_beats_the_email_around_it() {
    let text = "git clone https://ghp_i0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu@github.com/org/repo";
    assert_eq!(
        labelled(text),
        found(&[("secret", "ghp_i0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu")])
    );
}

#[test]
fn classes_that_are_off_are_not_scanned() {
    let mut spec = PrivacySpec::default();
    spec.classes.insert(DataClass::Email, Action::Redact);
    let profile = PrivacyProfile::compile(&spec).unwrap();
    let text = "a@example.com 4111 1111 1111 1111 AKIAIOSFODNN7EXAMPLE";
    let classes: Vec<_> = profile
        .find(text)
        .iter()
        .map(|f| profile.label(f.class).to_owned())
        .collect();
    assert_eq!(classes, ["email"]);
}
