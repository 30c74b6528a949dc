//! End to end through the public API: protect → (model echoes) → restore,
//! whole and streamed, and nothing the library emits carries a value.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;
use signalbox_privacy::{
    Action, ChatStreamRestorer, DataClass, Escape, InMemoryVault, PrivacyProfile, PrivacySpec,
    ProtectError, ProtectReport, StreamRestorer, TokenTable, TokenVault, VaultScope, load_table,
    restore_chat_response, restore_text, store_fresh,
};

const VALUES: &[&str] = &[
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "10.0.12.7",
    "536-22-1234",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_i0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu",
];

fn tokenising() -> PrivacyProfile {
    PrivacyProfile::compile(&PrivacySpec::all_builtin(Action::Tokenise)).unwrap()
}

/// Polls a future that is ready at once (the in-process vault's are).
fn now<T>(future: impl Future<Output = T>) -> T {
    match std::pin::pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("in-process vault futures are ready"),
    }
}

fn prompt() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(VALUES).prop_map(str::to_owned),
        "[a-z ,.]{1,12}",
        "[0-9 .-]{1,6}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #[test]
    fn restore_undoes_tokenise(text in prompt(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5)) {
        let profile = tokenising();
        let mut table = TokenTable::new();
        let mut report = ProtectReport::default();
        let protected = profile.protect_text(&text, &mut table, &mut report).unwrap().unwrap_or_else(|| text.clone());
        for value in VALUES {
            prop_assert!(!protected.contains(value), "{value} survived in {protected}");
        }
        let mut stats = Default::default();
        prop_assert_eq!(restore_text(&protected, &table, Escape::None, &mut stats), text.as_str());

        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(protected.len() + 1))
            .filter(|&i| protected.is_char_boundary(i)).collect();
        bounds.extend([0, protected.len()]);
        bounds.sort_unstable();
        let mut restorer = StreamRestorer::new(Arc::new(table), Escape::None);
        let mut streamed = String::new();
        for w in bounds.windows(2) {
            streamed.push_str(&restorer.push(&protected[w[0]..w[1]]));
        }
        streamed.push_str(&restorer.flush());
        prop_assert_eq!(streamed, text);
    }
}

#[test]
fn issue_example_request_to_json_and_stream_answers() {
    let mut spec = PrivacySpec::default();
    for class in [DataClass::Email, DataClass::Phone, DataClass::Card] {
        spec.classes.insert(class, Action::Tokenise);
    }
    spec.classes.insert(DataClass::Secret, Action::Block);
    let profile = PrivacyProfile::compile(&spec).unwrap();
    let vault = InMemoryVault::new(Duration::from_secs(600));
    let scope = VaultScope {
        tenant: "acme".to_owned(),
        session: "conv-1".to_owned(),
    };

    let mut body = json!({ "model": "chat", "messages": [
        { "role": "user", "content": "Email jane.doe@example.com, card 4111 1111 1111 1111." }
    ]});
    let mut table = now(load_table(&vault, &scope)).unwrap();
    profile.protect_chat_request(&mut body, &mut table).unwrap();
    now(store_fresh(&vault, &scope, &mut table)).unwrap();
    let upstream = body.to_string();
    assert!(
        !upstream.contains("jane.doe@example.com") && !upstream.contains("4111 1111 1111 1111")
    );
    assert!(upstream.contains("⟦EMAIL_1⟧") && upstream.contains("⟦CARD_1⟧"));

    // The upstream echoes the tokens: JSON answer.
    let mut answer = json!({ "choices": [{ "index": 0, "message": { "role": "assistant",
        "content": "Noted ⟦EMAIL_1⟧ and ⟦CARD_1⟧." } }] });
    restore_chat_response(&mut answer, &table);
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Noted jane.doe@example.com and 4111 1111 1111 1111."
    );

    // Streamed answer, tokens split across chunks.
    let mut restorer = ChatStreamRestorer::new(Arc::new(table));
    let mut content = String::new();
    for delta in ["Noted ⟦EM", "AIL_1⟧ and ⟦", "CARD_1⟧."] {
        let mut chunk = json!({ "choices": [{ "index": 0, "delta": { "content": delta } }] });
        restorer.restore_chunk(&mut chunk);
        content.push_str(chunk["choices"][0]["delta"]["content"].as_str().unwrap());
    }
    assert_eq!(
        content,
        "Noted jane.doe@example.com and 4111 1111 1111 1111."
    );

    // A later request in the same session reuses the token.
    let mut next =
        json!({ "messages": [{ "role": "user", "content": "And jane.doe@example.com again" }] });
    let mut table = now(load_table(&vault, &scope)).unwrap();
    profile.protect_chat_request(&mut next, &mut table).unwrap();
    assert_eq!(next["messages"][0]["content"], "And ⟦EMAIL_1⟧ again");

    // A cloud key is refused, naming the class only.
    let mut secret =
        json!({ "messages": [{ "role": "user", "content": "key AKIAIOSFODNN7EXAMPLE" }] });
    let err = profile
        .protect_chat_request(&mut secret, &mut table)
        .unwrap_err();
    assert!(matches!(&err, ProtectError::Blocked(b) if b.classes == ["secret"]));
}

#[test]
fn nothing_emitted_carries_a_value() {
    let mut spec = PrivacySpec::all_builtin(Action::Tokenise);
    spec.classes.insert(DataClass::Iban, Action::Redact);
    spec.classes.insert(DataClass::Ip, Action::Allow);
    let profile = PrivacyProfile::compile(&spec).unwrap();
    let text = VALUES.join(" and ");
    let vault = InMemoryVault::new(Duration::from_secs(60));
    let scope = VaultScope {
        tenant: "t".to_owned(),
        session: "s".to_owned(),
    };
    let mut table = TokenTable::new();
    let mut body = json!({ "messages": [{ "role": "user", "content": text }] });
    let report = profile.protect_chat_request(&mut body, &mut table).unwrap();
    let fresh = table.take_fresh();
    now(vault.store(&scope, fresh.clone())).unwrap();

    spec.classes.insert(DataClass::Secret, Action::Block);
    let blocking = PrivacyProfile::compile(&spec).unwrap();
    let mut again = json!({ "messages": [{ "role": "user", "content": text }] });
    let err = blocking
        .protect_chat_request(&mut again, &mut TokenTable::new())
        .unwrap_err();

    let emitted = [
        format!("{report:?}"),
        serde_json::to_string(&report).unwrap(),
        format!("{err}"),
        format!("{err:?}"),
        format!("{table:?}"),
        format!("{fresh:?}"),
        format!("{vault:?}"),
        format!("{profile:?}"),
        err.metric_label().to_owned(),
    ]
    .join("\n");
    for value in VALUES {
        assert!(!emitted.contains(value), "{value} leaked:\n{emitted}");
    }
    assert_eq!(report.total(), 8);
}
