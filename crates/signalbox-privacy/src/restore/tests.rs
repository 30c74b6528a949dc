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

/// `json.dumps` with its default `ensure_ascii`: every non-ASCII character
/// as `\uXXXX`.
fn python_dumps(v: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[test]
fn tokens_are_restored_however_the_upstream_escaped_the_json() {
    // The tool's arguments were themselves written by `json.dumps`, so the
    // token in them is escaped twice once the body is encoded.
    let args = python_dumps(&json!({ "to": "⟦EMAIL_1⟧", "note": "é 😀" }));
    assert!(args.contains("\\u27e6EMAIL_1\\u27e7"), "{args}");
    let body = json!({ "choices": [{ "index": 0, "message": {
        "role": "assistant", "content": "Sent to ⟦EMAIL_1⟧ — ⟦CARD_1⟧ 😀",
        "tool_calls": [{ "id": "c", "type": "function",
            "function": { "name": "f", "arguments": args } }] } }]});
    let wire = python_dumps(&body);
    assert!(!wire.contains('⟦') && wire.contains("\\u27e6EMAIL_1\\u27e7"));
    assert!(crate::may_contain_token(wire.as_bytes()));
    let mut parsed: serde_json::Value = serde_json::from_str(&wire).unwrap();
    let stats = restore_chat_response(&mut parsed, &table());
    assert_eq!(stats.restored, 3, "{parsed}");
    let message = &parsed["choices"][0]["message"];
    assert_eq!(
        message["content"],
        "Sent to jane.doe@example.com — 4111 1111 1111 1111 😀"
    );
    let args: serde_json::Value = serde_json::from_str(
        message["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        args,
        json!({ "to": "jane.doe@example.com", "note": "é 😀" })
    );
}

#[test]
fn escaped_ascii_and_an_escaped_backslash_are_read_as_json_reads_them() {
    let mut stats = RestoreStats::default();
    let text = r#"{"a":"\u27e6\u0045MAIL_1\u27e7","b":"\\u27e6EMAIL_1\u27e7"}"#;
    let out = restore_text(text, &table(), Escape::JsonString, &mut stats);
    // `\\u27e6` is an escaped backslash then text: no bracket, no token.
    assert_eq!(
        out,
        r#"{"a":"jane.doe@example.com","b":"\\u27e6EMAIL_1\u27e7"}"#
    );
    assert_eq!(stats.restored, 1);
}
