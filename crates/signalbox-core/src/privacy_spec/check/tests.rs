use super::*;
use crate::privacy_spec::{
    CustomPatternSpec, DictionarySpec, EntropySpec, NationalIdPattern, PrivacySpec,
};

fn spec() -> PrivacySpec {
    let mut spec = PrivacySpec::all_builtin(Action::Redact);
    spec.national_ids.patterns.push(NationalIdPattern {
        country: "GB".to_owned(),
        regex: r"\b[A-Z]{2}\d{6}[A-D]\b".to_owned(),
    });
    spec.custom.push(CustomPatternSpec {
        name: "ticket".to_owned(),
        regex: r"\bT-\d+\b".to_owned(),
        action: Action::Tokenise,
    });
    spec.dictionaries.push(DictionarySpec {
        name: "project-code".to_owned(),
        terms: vec![" Bluebird ".to_owned(), String::new()],
        action: Action::Block,
    });
    spec
}

#[test]
fn named_classes_follow_the_builtins_in_spec_order() {
    let spec = spec();
    let checked = spec.check().unwrap();
    let first = u16::try_from(DataClass::ALL.len()).unwrap();
    let classes: Vec<PatternClass> = checked.patterns.iter().map(|(_, c)| *c).collect();
    assert_eq!(
        classes,
        [PatternClass::NationalId, PatternClass::Named(first)]
    );
    assert_eq!(checked.set.map(|s| s.len()), Some(2));
    assert_eq!(
        checked.named,
        [
            NamedClass {
                name: "ticket",
                action: Action::Tokenise
            },
            NamedClass {
                name: "project-code",
                action: Action::Block
            },
        ]
    );
    assert_eq!(
        checked.terms,
        [("Bluebird".to_owned(), PatternClass::Named(first + 1))]
    );
    assert_eq!(class_kind("project-code"), "PROJECT_CODE");
}

#[test]
fn national_id_patterns_are_not_compiled_when_the_class_is_off() {
    let mut spec = spec();
    spec.classes.remove(&DataClass::NationalId);
    spec.national_ids.patterns[0].regex = "(".to_owned();
    let checked = spec.check().unwrap();
    assert_eq!(checked.patterns.len(), 1);
}

#[test]
fn errors_name_the_spec_path() {
    let mut bad = spec();
    bad.national_ids.patterns[0].regex = "(".to_owned();
    let err = bad.check().unwrap_err().to_string();
    assert!(
        err.starts_with("`national-ids.patterns[0].regex`: invalid regex: "),
        "{err}"
    );

    let mut bad = spec();
    bad.dictionaries[0].name = "Ticket".to_owned();
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "`dictionaries[0].name`: invalid name `Ticket`: use 1-32 characters a-z, 0-9, `_` or `-`, starting with a letter"
    );

    let mut bad = spec();
    bad.dictionaries[0].name = "ticket".to_owned();
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "`dictionaries[0].name`: invalid name `ticket`: used twice"
    );

    let mut bad = spec();
    bad.secrets.entropy = Some(EntropySpec {
        min_len: 24,
        min_bits_per_char: 9.0,
    });
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "`secrets.entropy`: min-bits-per-char must be between 1 and 8"
    );
}
