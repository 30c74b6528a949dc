use proptest::prelude::*;
use serde::Serialize;

use super::super::{Num, split};
use super::fingerprint;
use crate::test_support::{failed, gateway_like, served};

/// The fingerprint's numbers and the shape's text, as the writer gets them.
fn both<T: Serialize + ?Sized>(value: &T) -> (Option<u128>, Vec<Num>, Vec<u8>, Vec<Num>) {
    let (mut tokens, mut printed) = (super::Scratch::default(), Vec::new());
    let print = fingerprint(value, &mut tokens, &mut printed);
    let (mut shape, mut split_digits) = (Vec::new(), Vec::new());
    split(value, &mut shape, &mut split_digits).unwrap();
    (print, printed, shape, split_digits)
}

#[test]
fn the_numbers_taken_out_are_the_ones_the_shape_takes_out() {
    let values = [
        serde_json::json!({
            "a": "gpt-4o 007 \"12\" 000 123456789012345678901 \u{1}",
            "n": 7, "f": 0.0012, "g": -3.5000000000000004e-5, "i": -12,
            "big": u64::MAX, "e": 4.8e-6, "z": 0, "k9": [1, "x2y", null, true],
        }),
        serde_json::to_value(served("r-1", 1_700_000_000_000, "acme", "eu")).unwrap(),
    ];
    for v in &values {
        let (print, printed, _, split_digits) = both(v);
        assert!(print.is_some());
        assert_eq!(printed, split_digits, "{v}");
    }
    for r in [
        served("r-1", 1_700_000_000_000, "acme", "eu"),
        failed("r-2", 1_700_000_000_001, "acme", "eu"),
        gateway_like(3, 1_700_000_000_002),
        gateway_like(4, 1_700_000_000_003),
    ] {
        let (_, printed, _, split_digits) = both(&r);
        assert_eq!(printed, split_digits, "{r:?}");
    }
}

#[test]
fn records_of_one_shape_share_a_fingerprint_and_others_do_not() {
    let a = served("r-1", 1_700_000_000_000, "acme", "eu");
    let mut b = served("r-22", 1_700_000_009_999, "acme", "eu");
    b.latency_ms = a.latency_ms + 17;
    let (pa, _, sa, _) = both(&a);
    let (pb, _, sb, _) = both(&b);
    assert_eq!(sa, sb, "same shape");
    assert_eq!(pa, pb, "so the same fingerprint");
    let c = served("r-1", 1_700_000_000_000, "acme", "us");
    let (pc, _, sc, _) = both(&c);
    assert_ne!(sa, sc);
    assert_ne!(pa, pc, "another route is another shape");
}

#[test]
fn a_map_key_serde_json_refuses_has_no_fingerprint() {
    let mut m = std::collections::BTreeMap::new();
    m.insert(vec![1u8], 1);
    let (mut tokens, mut digits) = (super::Scratch::default(), Vec::new());
    assert!(fingerprint(&m, &mut tokens, &mut digits).is_none());
    assert!(serde_json::to_vec(&m).is_err());
}

/// Text made of what matters to the shaper: digits (runs of every length
/// round the 17-digit limit), escapes, multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("\n".to_owned()),
            Just("é".to_owned()),
            Just(" ".to_owned()),
            "[0-9]{1,20}",
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

#[derive(Debug, Clone, Serialize)]
struct Sample {
    name: String,
    tags: Vec<String>,
    n: Option<i64>,
    f: f64,
    keyed: std::collections::BTreeMap<String, u32>,
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        text(),
        proptest::collection::vec(text(), 0..3),
        proptest::option::of(any::<i64>()),
        prop_oneof![Just(0.5), Just(f64::NAN), any::<f64>()],
        proptest::collection::btree_map(text(), any::<u32>(), 0..3),
    )
        .prop_map(|(name, tags, n, f, keyed)| Sample {
            name,
            tags,
            n,
            f,
            keyed,
        })
}

/// `s` with every digit changed (so every run keeps its length).
fn other_digits(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '7' } else { c })
        .collect()
}

/// Whether `s` has a run of digits the shaper keeps as text.
fn long_run(s: &str) -> bool {
    s.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() > super::super::MAX_RUN)
}

proptest! {
    /// Fingerprints agree exactly when shapes do (for these values, whose
    /// serde calls map one to one onto shape text).
    #[test]
    fn fingerprints_agree_exactly_when_shapes_do(a in sample(), b in sample()) {
        let (pa, da, sa, ja) = both(&a);
        let (pb, db, sb, jb) = both(&b);
        prop_assert_eq!(&da, &ja);
        prop_assert_eq!(&db, &jb);
        prop_assert_eq!(pa == pb, sa == sb);
    }

    #[test]
    fn other_numbers_keep_the_fingerprint_when_they_keep_the_shape(a in sample()) {
        let mut b = a.clone();
        b.name = other_digits(&a.name);
        b.tags = a.tags.iter().map(|t| other_digits(t)).collect();
        b.n = a.n.map(|n| if n.unsigned_abs() < 1 << 60 { n.signum() * 12_345 } else { n });
        if a.f.is_finite() {
            b.f = 0.25;
        }
        // Keys keep their text: other digits could reorder the map.
        b.keyed = a.keyed.iter().map(|(k, v)| (k.clone(), v.wrapping_add(1))).collect();
        let (pa, _, sa, _) = both(&a);
        let (pb, _, sb, _) = both(&b);
        prop_assert_eq!(pa == pb, sa == sb);
        let strings = std::iter::once(&a.name).chain(&a.tags);
        if !strings.into_iter().any(|s| long_run(s)) {
            // No run of digits long enough to stay in the shape as text:
            // the shape, and so the fingerprint, must be the same.
            prop_assert_eq!(pa, pb);
        }
    }
}

/// Names with digits in them (a field, a variant): their digits are values.
#[derive(Debug, Clone, Serialize)]
struct Numbered {
    k9: u8,
    plain: &'static str,
    step: Step,
}

#[derive(Debug, Clone, Serialize)]
enum Step {
    V2,
    Plain,
}

/// The walk remembers which names hold no digit; reused across records
/// (as the writer reuses it), it must take out exactly the numbers the
/// shape does and print what a fresh walk prints, record after record,
/// names with digits included.
#[test]
fn a_reused_walk_prints_what_a_fresh_one_does() {
    let mut scratch = super::Scratch::default();
    let values: Vec<serde_json::Value> = (0..3)
        .flat_map(|round| {
            [
                serde_json::to_value(gateway_like(round, 1_700_000_000_000 + round)).unwrap(),
                serde_json::to_value(served("r-1", 1_700_000_000_000, "acme", "eu")).unwrap(),
                serde_json::to_value(failed("r-2", 1_700_000_000_001, "acme", "eu")).unwrap(),
            ]
        })
        .collect();
    let numbered = [
        Numbered {
            k9: 1,
            plain: "a",
            step: Step::V2,
        },
        Numbered {
            k9: 2,
            plain: "b",
            step: Step::Plain,
        },
    ];
    for _ in 0..3 {
        for v in &values {
            check_reused(v, &mut scratch);
        }
        for n in &numbered {
            check_reused(n, &mut scratch);
        }
        for r in [
            gateway_like(7, 1_700_000_000_007),
            failed("r-3", 1, "acme", "us"),
        ] {
            check_reused(&r, &mut scratch);
        }
    }
}

fn check_reused<T: Serialize + std::fmt::Debug>(value: &T, scratch: &mut super::Scratch) {
    let mut digits = Vec::new();
    let print = fingerprint(value, scratch, &mut digits);
    let (fresh, _, _, split_digits) = both(value);
    assert_eq!(digits, split_digits, "{value:?}");
    assert_eq!(print, fresh, "{value:?}");
}
