use std::collections::HashMap;

use proptest::prelude::*;
use yaml_serde::Value;

use super::{InterpError, interpolate_str, interpolate_tree};

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn expands_set_variables() {
    let v = vars(&[("HOST", "example.com"), ("PORT", "8080")]);
    assert_eq!(
        interpolate_str("http://${HOST}:${PORT}/v1", &v).unwrap(),
        "http://example.com:8080/v1"
    );
}

#[test]
fn defaults_apply_when_unset_or_empty() {
    let v = vars(&[("EMPTY", ""), ("SET", "yes")]);
    assert_eq!(
        interpolate_str("${MISSING:-fallback}", &v).unwrap(),
        "fallback"
    );
    assert_eq!(
        interpolate_str("${EMPTY:-fallback}", &v).unwrap(),
        "fallback"
    );
    assert_eq!(interpolate_str("${SET:-fallback}", &v).unwrap(), "yes");
    assert_eq!(interpolate_str("${MISSING:-}", &v).unwrap(), "");
    assert_eq!(
        interpolate_str("${MISSING:-127.0.0.1:4000}", &v).unwrap(),
        "127.0.0.1:4000"
    );
}

#[test]
fn set_but_empty_without_default_is_empty() {
    let v = vars(&[("EMPTY", "")]);
    assert_eq!(interpolate_str("a${EMPTY}b", &v).unwrap(), "ab");
}

#[test]
fn dollar_escapes_and_lone_dollars() {
    let v = vars(&[]);
    assert_eq!(
        interpolate_str("$${NOT_A_VAR}", &v).unwrap(),
        "${NOT_A_VAR}"
    );
    assert_eq!(interpolate_str("cost: $5 $", &v).unwrap(), "cost: $5 $");
    assert_eq!(interpolate_str("a$$b", &v).unwrap(), "a$b");
}

#[test]
fn errors() {
    let v = vars(&[]);
    assert_eq!(
        interpolate_str("${NOPE}", &v),
        Err(InterpError::Unset("NOPE".into()))
    );
    assert_eq!(
        interpolate_str("x ${OPEN", &v),
        Err(InterpError::Unterminated)
    );
    assert_eq!(
        interpolate_str("${}", &v),
        Err(InterpError::BadName(String::new()))
    );
    assert_eq!(
        interpolate_str("${A-b}", &v),
        Err(InterpError::BadName("A-b".into()))
    );
}

#[test]
fn tree_errors_carry_paths() {
    let mut doc: Value =
        yaml_serde::from_str("providers:\n  - name: p\n    base-url: ${PRIMARY_URL}\n").unwrap();
    let errors = interpolate_tree(&mut doc, &vars(&[]));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "providers[0].base-url");
    assert_eq!(
        errors[0].message,
        "environment variable PRIMARY_URL is not set"
    );
}

#[test]
fn lone_expressions_are_retyped() {
    let text = "a: ${N:-1024}\nb: ${F:-0.5}\nc: ${B:-true}\nd: x${N:-1}\ne: ${S:-hello}\nf: ${NEG:--3}\ng: ${INF:-inf}\n";
    let mut doc: Value = yaml_serde::from_str(text).unwrap();
    assert!(interpolate_tree(&mut doc, &vars(&[])).is_empty());
    assert_eq!(doc["a"].as_u64(), Some(1024));
    assert_eq!(doc["b"].as_f64(), Some(0.5));
    assert_eq!(doc["c"].as_bool(), Some(true));
    assert_eq!(doc["d"].as_str(), Some("x1"));
    assert_eq!(doc["e"].as_str(), Some("hello"));
    assert_eq!(doc["f"].as_i64(), Some(-3));
    assert_eq!(doc["g"].as_str(), Some("inf"));
}

#[test]
fn keys_and_structure_are_untouched() {
    let mut doc: Value = yaml_serde::from_str("${K}: \"a: [1, 2]\"\n").unwrap();
    let errors = interpolate_tree(&mut doc, &vars(&[("K", "x")]));
    assert!(errors.is_empty());
    assert_eq!(doc["${K}"].as_str(), Some("a: [1, 2]"));
    let mut doc: Value = yaml_serde::from_str("v: ${K}\n").unwrap();
    interpolate_tree(&mut doc, &vars(&[("K", "{a: 1}")]));
    assert_eq!(doc["v"].as_str(), Some("{a: 1}"));
}

proptest! {
    #[test]
    fn never_panics(s in ".*") {
        let _ = interpolate_str(&s, &vars(&[("A", "1")]));
    }

    #[test]
    fn text_without_dollar_is_unchanged(s in "[^$]*") {
        prop_assert_eq!(interpolate_str(&s, &vars(&[])).unwrap(), s);
    }

    #[test]
    fn escaped_dollars_round_trip(s in ".*") {
        let escaped = s.replace('$', "$$");
        prop_assert_eq!(interpolate_str(&escaped, &vars(&[])).unwrap(), s);
    }
}
