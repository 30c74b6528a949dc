use super::*;
use crate::{CustomPatternSpec, DictionarySpec, NationalIdPattern};

fn spec() -> PrivacySpec {
    let mut spec = PrivacySpec::default();
    spec.classes.insert(DataClass::Email, Action::Tokenise);
    spec.classes.insert(DataClass::Card, Action::Redact);
    spec.classes.insert(DataClass::Secret, Action::Block);
    spec.classes.insert(DataClass::NationalId, Action::Redact);
    spec.classes.insert(DataClass::Phone, Action::Allow);
    spec.national_ids.patterns.push(NationalIdPattern {
        country: "GB".to_owned(),
        regex: r"\b[A-CEGHJ-PR-TW-Z]{2}\d{6}[A-D]\b".to_owned(),
    });
    spec.custom.push(CustomPatternSpec {
        name: "ticket".to_owned(),
        regex: r"\bTCK-\d{5}\b".to_owned(),
        action: Action::Redact,
    });
    spec.dictionaries.push(DictionarySpec {
        name: "project-code".to_owned(),
        terms: vec![
            "Bluebird".to_owned(),
            "Night Jar".to_owned(),
            " ".to_owned(),
        ],
        action: Action::Tokenise,
    });
    spec
}

#[test]
fn applies_each_action_and_counts() {
    let profile = PrivacyProfile::compile(&spec()).unwrap();
    let mut table = TokenTable::new();
    let mut report = ProtectReport::default();
    let text = "Mail a@x.io about bluebird and NIGHT JAR (not bluebirds): card 4111-1111-1111-1111, \
                ticket TCK-12345, NI AB123456C, call +1 415 555 0132, again a@x.io.";
    let out = profile
        .protect_text(text, &mut table, &mut report)
        .unwrap()
        .unwrap();
    assert_eq!(
        out,
        "Mail ⟦EMAIL_1⟧ about ⟦PROJECT_CODE_1⟧ and ⟦PROJECT_CODE_2⟧ (not bluebirds): card [REDACTED_CARD], \
         ticket [REDACTED_TICKET], NI [REDACTED_NATIONAL_ID], call +1 415 555 0132, again ⟦EMAIL_1⟧."
    );
    assert_eq!(report.classes["email"].tokenised, 2);
    assert_eq!(report.classes["phone"].allowed, 1);
    assert_eq!(report.classes["project-code"].tokenised, 2);
    assert_eq!(report.total(), 8);
    assert_eq!(table.value_of("⟦PROJECT_CODE_2⟧"), Some("NIGHT JAR"));
}

#[test]
fn block_names_the_class_and_leaves_the_table_alone() {
    let profile = PrivacyProfile::compile(&spec()).unwrap();
    let mut table = TokenTable::new();
    let mut report = ProtectReport::default();
    let err = profile
        .protect_text("a@x.io key AKIAIOSFODNN7EXAMPLE", &mut table, &mut report)
        .unwrap_err();
    assert_eq!(err.classes, ["secret"]);
    let message = err.to_string();
    assert!(
        message.contains("secret") && !message.contains("AKIA"),
        "{message}"
    );
    assert!(table.is_empty());
}

#[test]
fn unchanged_text_is_none() {
    let profile = PrivacyProfile::compile(&spec()).unwrap();
    let mut report = ProtectReport::default();
    let out = profile.protect_text(
        "nothing here, call +1 415 555 0132",
        &mut TokenTable::new(),
        &mut report,
    );
    assert!(out.unwrap().is_none());
}

#[test]
fn rejects_bad_specs_with_paths() {
    let mut bad_regex = spec();
    bad_regex.custom[0].regex = "(".to_owned();
    let err = PrivacyProfile::compile(&bad_regex).unwrap_err().to_string();
    assert!(err.starts_with("`custom[0].regex`"), "{err}");

    let mut shadow = spec();
    shadow.custom[0].name = "email".to_owned();
    assert!(
        PrivacyProfile::compile(&shadow)
            .unwrap_err()
            .to_string()
            .contains("shadows")
    );

    let mut twice = spec();
    twice.dictionaries[0].name = "ticket".to_owned();
    assert!(
        PrivacyProfile::compile(&twice)
            .unwrap_err()
            .to_string()
            .contains("dictionaries[0].name")
    );

    let mut empty = spec();
    empty.dictionaries[0].terms = vec![" ".to_owned()];
    assert!(
        PrivacyProfile::compile(&empty)
            .unwrap_err()
            .to_string()
            .contains("no terms")
    );

    let mut entropy = spec();
    entropy.secrets.entropy = Some(crate::EntropySpec {
        min_len: 4,
        min_bits_per_char: 4.0,
    });
    assert!(PrivacyProfile::compile(&entropy).is_err());
}

#[test]
fn spec_deserialises_from_config_shape() {
    let spec: PrivacySpec = serde_json::from_value(serde_json::json!({
        "classes": { "email": "tokenise", "national-id": "redact", "secret": "block" },
        "national-ids": { "us-ssn": false },
        "secrets": { "entropy": null },
        "dictionaries": [{ "name": "customer", "terms": ["Acme"], "action": "redact" }]
    }))
    .unwrap();
    assert_eq!(spec.classes[&DataClass::NationalId], Action::Redact);
    assert!(!spec.national_ids.us_ssn && spec.secrets.entropy.is_none());
    let unknown = serde_json::from_value::<PrivacySpec>(serde_json::json!({ "clases": {} }));
    assert!(unknown.is_err());
    assert!(!PrivacyProfile::compile(&spec).unwrap().is_inert());
    assert!(
        PrivacyProfile::compile(&PrivacySpec::default())
            .unwrap()
            .is_inert()
    );
}
