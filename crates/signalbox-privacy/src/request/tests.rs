use serde_json::json;

use super::*;
use crate::{Action, DataClass, PrivacySpec};

fn profile() -> PrivacyProfile {
    let mut spec = PrivacySpec::all_builtin(Action::Tokenise);
    spec.classes.insert(DataClass::Secret, Action::Block);
    spec.classes.insert(DataClass::Iban, Action::Redact);
    PrivacyProfile::compile(&spec).unwrap()
}

#[test]
fn protects_every_provider_visible_text() {
    let mut body = json!({
        "model": "chat",
        "messages": [
            { "role": "system", "content": "Support for jane.doe@example.com" },
            { "role": "user", "content": [
                { "type": "text", "text": "My card is 4111 1111 1111 1111, mail jane.doe@example.com" },
                { "type": "image_url", "image_url": { "url": "https://x.io/a@b.com.png" } }
            ]},
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "c1", "type": "function", "function": {
                    "name": "lookup", "arguments": "{\"email\":\"jane.doe@example.com\",\"iban\":\"GB82WEST12345698765432\"}" } }
            ]},
            { "role": "tool", "tool_call_id": "c1", "content": "Found +1-415-555-0132 for jane.doe@example.com" }
        ]
    });
    let mut table = TokenTable::new();
    let report = profile()
        .protect_chat_request(&mut body, &mut table)
        .unwrap();
    let m = &body["messages"];
    assert_eq!(m[0]["content"], "Support for ⟦EMAIL_1⟧");
    assert_eq!(
        m[1]["content"][0]["text"],
        "My card is ⟦CARD_1⟧, mail ⟦EMAIL_1⟧"
    );
    assert_eq!(
        m[1]["content"][1]["image_url"]["url"],
        "https://x.io/a@b.com.png"
    );
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        "{\"email\":\"⟦EMAIL_1⟧\",\"iban\":\"[REDACTED_IBAN]\"}"
    );
    assert_eq!(m[3]["content"], "Found ⟦PHONE_1⟧ for ⟦EMAIL_1⟧");
    assert_eq!(report.texts, 4);
    assert_eq!(report.classes["email"].tokenised, 4);
    assert_eq!(report.classes["iban"].redacted, 1);
    let serialised = serde_json::to_string(&report).unwrap();
    assert!(!serialised.contains("jane") && !serialised.contains("4111"));
}

#[test]
fn block_anywhere_leaves_body_and_table_untouched() {
    let mut body = json!({ "messages": [
        { "role": "user", "content": "mail jane.doe@example.com" },
        { "role": "tool", "content": "token ghp_16C7e42F292c6912E7710c838347Ae178B4a" }
    ]});
    let before = body.clone();
    let mut table = TokenTable::new();
    let err = profile()
        .protect_chat_request(&mut body, &mut table)
        .unwrap_err();
    let ProtectError::Blocked(blocked) = &err else {
        panic!("expected a block, got {err}");
    };
    assert_eq!(blocked.classes, ["secret"]);
    assert_eq!(blocked.report.classes["email"].tokenised, 1);
    assert_eq!(err.metric_label(), "privacy_blocked");
    assert!(!err.to_string().contains("ghp_"));
    assert_eq!(body, before);
    assert!(table.is_empty());
}

#[test]
fn escaped_values_in_arguments_are_stored_decoded() {
    let mut spec = PrivacySpec::default();
    spec.classes.insert(DataClass::Secret, Action::Tokenise);
    let profile = PrivacyProfile::compile(&spec).unwrap();
    let key =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    let arguments = serde_json::to_string(&json!({ "key": key })).unwrap();
    let mut body = json!({ "messages": [{ "role": "assistant", "tool_calls": [
        { "function": { "name": "f", "arguments": arguments } }
    ]}]});
    let mut table = TokenTable::new();
    profile.protect_chat_request(&mut body, &mut table).unwrap();
    assert_eq!(
        body["messages"][0]["tool_calls"][0]["function"]["arguments"],
        "{\"key\":\"⟦SECRET_1⟧\"}"
    );
    assert_eq!(table.value_of("⟦SECRET_1⟧"), Some(key));
}

#[test]
fn rejects_bodies_that_are_not_chat_requests() {
    let mut table = TokenTable::new();
    for mut body in [
        json!([]),
        json!({ "prompt": "hi" }),
        json!({ "messages": "hi" }),
    ] {
        let err = profile()
            .protect_chat_request(&mut body, &mut table)
            .unwrap_err();
        assert!(matches!(err, ProtectError::NotChatRequest(_)), "{err}");
    }
}
