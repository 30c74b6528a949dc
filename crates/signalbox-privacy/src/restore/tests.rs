use serde_json::json;

use super::*;

fn table() -> TokenTable {
    let mut table = TokenTable::new();
    table.tokenise("EMAIL", "jane.doe@example.com");
    table.tokenise("CARD", "4111 1111 1111 1111");
    table.tokenise("SECRET", "line1\n\"quoted\"");
    table
}

#[test]
fn restores_known_and_counts_unknown_and_mangled() {
    let mut stats = RestoreStats::default();
    let text = "Hi ⟦EMAIL_1⟧, card ⟦CARD_1⟧; ⟦EMAIL_9⟧ ⟦EMAIL_1] ⟦ lone ⟦EMAIL_1⟧⟦CARD_1";
    let out = restore_text(text, &table(), Escape::None, &mut stats);
    assert_eq!(
        out,
        "Hi jane.doe@example.com, card 4111 1111 1111 1111; ⟦EMAIL_9⟧ ⟦EMAIL_1] ⟦ lone jane.doe@example.com⟦CARD_1"
    );
    assert_eq!(
        stats,
        RestoreStats {
            restored: 3,
            unknown: 1,
            malformed: 3
        }
    );
}

#[test]
fn text_without_tokens_is_borrowed() {
    let mut stats = RestoreStats::default();
    assert!(matches!(
        restore_text("plain", &table(), Escape::None, &mut stats),
        Cow::Borrowed(_)
    ));
}

#[test]
fn restores_response_content_parts_and_tool_arguments() {
    let mut body = json!({ "choices": [
        { "index": 0, "message": { "role": "assistant", "content": "Sent to ⟦EMAIL_1⟧",
          "tool_calls": [{ "id": "c", "type": "function",
            "function": { "name": "f", "arguments": "{\"to\":\"⟦EMAIL_1⟧\",\"k\":\"⟦SECRET_1⟧\"}" } }] } },
        { "index": 1, "message": { "content": [{ "type": "text", "text": "⟦CARD_1⟧" }] } }
    ]});
    let stats = restore_chat_response(&mut body, &table());
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Sent to jane.doe@example.com"
    );
    let args: serde_json::Value = serde_json::from_str(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        args,
        json!({ "to": "jane.doe@example.com", "k": "line1\n\"quoted\"" })
    );
    assert_eq!(
        body["choices"][1]["message"]["content"][0]["text"],
        "4111 1111 1111 1111"
    );
    assert_eq!(stats.restored, 4);
}
