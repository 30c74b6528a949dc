//! The privacy boundary: detectors (`PrivacyProfile::find`), redaction and
//! tokenisation (`protect_text`, `protect_chat_request`) and restoring tokens
//! in answers, whole (`restore_text`, `restore_chat_response`) and streamed
//! (`StreamRestorer`, `ChatStreamRestorer`), over two compiled profiles.
//!
//! Input: arbitrary bytes. When they parse as JSON they are also protected
//! as a chat-completions request body; the text (lossy UTF-8) is always
//! scanned directly and inside a synthetic request with a tool call.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use signalbox_privacy::{
    Action, ChatStreamRestorer, CustomPatternSpec, DataClass, DictionarySpec, Escape,
    NationalIdPattern, PrivacyProfile, PrivacySpec, ProtectReport, RestoreStats, StreamRestorer,
    TokenTable, restore_chat_response, restore_text,
};

/// Built like the crate's own profile tests: every action in use.
fn mixed_spec() -> PrivacySpec {
    let mut spec = PrivacySpec::default();
    spec.classes.insert(DataClass::Email, Action::Tokenise);
    spec.classes.insert(DataClass::Card, Action::Redact);
    spec.classes.insert(DataClass::Secret, Action::Block);
    spec.classes.insert(DataClass::NationalId, Action::Redact);
    spec.classes.insert(DataClass::Phone, Action::Allow);
    spec.classes.insert(DataClass::Iban, Action::Tokenise);
    spec.classes.insert(DataClass::Ip, Action::Redact);
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
        terms: vec!["Bluebird".to_owned(), "Night Jar".to_owned(), " ".to_owned()],
        action: Action::Tokenise,
    });
    spec
}

/// Every built-in class tokenised (nothing blocks), plus custom classes.
fn tokenise_spec() -> PrivacySpec {
    let mut spec = PrivacySpec::all_builtin(Action::Tokenise);
    spec.custom.push(CustomPatternSpec {
        name: "order".to_owned(),
        regex: r"ORD-[0-9A-F]{4,8}".to_owned(),
        action: Action::Tokenise,
    });
    spec.dictionaries.push(DictionarySpec {
        name: "customer".to_owned(),
        terms: vec!["Acme Corp".to_owned(), "ünïcode GmbH".to_owned(), "x".to_owned()],
        action: Action::Tokenise,
    });
    spec
}

fn profiles() -> &'static [PrivacyProfile] {
    static PROFILES: OnceLock<Vec<PrivacyProfile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        [mixed_spec(), tokenise_spec()]
            .iter()
            .map(|spec| PrivacyProfile::compile(spec).expect("fuzz profile spec is valid"))
            .collect()
    })
}

/// Splits `text` at char boundaries into pieces of 1..=16 chars.
fn pieces<'t>(text: &'t str, seed: &[u8]) -> Vec<&'t str> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut i = 0;
    while !rest.is_empty() {
        let want = 1 + usize::from(seed.get(i % seed.len().max(1)).copied().unwrap_or(3) % 16);
        i += 1;
        let end = rest.char_indices().nth(want).map_or(rest.len(), |(at, _)| at);
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// Restores `text` whole and, with `streamed`, in pieces (plain and as chat
/// chunks; the JSON chunks dominate the cost, so only for the direct text).
fn restore_everywhere(text: &str, table: TokenTable, seed: &[u8], streamed: bool) {
    let mut stats = RestoreStats::default();
    std::hint::black_box(restore_text(text, &table, Escape::None, &mut stats));
    std::hint::black_box(restore_text(text, &table, Escape::JsonString, &mut stats));

    let mut response = json!({"choices": [{"index": 0, "message": {
        "role": "assistant",
        "content": text,
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "f", "arguments": text}}],
    }}]});
    std::hint::black_box(restore_chat_response(&mut response, &table));
    if !streamed {
        return;
    }

    let table = Arc::new(table);
    let mut plain = StreamRestorer::new(Arc::clone(&table), Escape::None);
    let mut restored = String::new();
    for piece in pieces(text, seed) {
        restored.push_str(&plain.push(piece));
    }
    restored.push_str(&plain.flush());
    std::hint::black_box(restored);

    let mut chat = ChatStreamRestorer::new(table);
    let parts = pieces(text, seed);
    let last = parts.len().saturating_sub(1);
    for (i, piece) in parts.into_iter().enumerate() {
        let mut chunk = json!({"choices": [{"index": i % 2, "delta": {
            "content": piece,
            "tool_calls": [{"index": 0, "function": {"arguments": piece}}],
        }, "finish_reason": if i == last { Value::from("stop") } else { Value::Null }}]});
        chat.restore_chunk(&mut chunk);
        std::hint::black_box(&chunk);
    }
    std::hint::black_box(chat.finish());
}

fn protect_body(profile: &PrivacyProfile, mut body: Value, seed: &[u8]) {
    let mut table = TokenTable::new();
    if profile.protect_chat_request(&mut body, &mut table).is_ok() {
        let _ = table.take_fresh();
        // Whatever the provider sees may come back: restore it.
        let echoed = body.to_string();
        restore_everywhere(&echoed, table, seed, false);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for profile in profiles() {
        std::hint::black_box(profile.find(&text));

        let mut table = TokenTable::new();
        let mut report = ProtectReport::default();
        if let Ok(out) = profile.protect_text(&text, &mut table, &mut report) {
            let protected = out.unwrap_or_else(|| text.clone().into_owned());
            restore_everywhere(&protected, table, data, true);
        }

        if let Ok(value) = serde_json::from_slice::<Value>(data) {
            protect_body(profile, value, data);
        }
        let synthetic = json!({"model": "m", "messages": [
            {"role": "system", "content": &*text},
            {"role": "user", "content": [{"type": "text", "text": &*text},
                                         {"type": "image_url", "image_url": {"url": &*text}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "lookup", "arguments": &*text}}]},
            {"role": "tool", "tool_call_id": "c1", "content": &*text},
        ]});
        protect_body(profile, synthetic, data);
    }
});
