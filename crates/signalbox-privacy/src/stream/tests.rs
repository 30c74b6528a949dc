use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::restore::restore_text;

fn table() -> Arc<TokenTable> {
    let mut table = TokenTable::new();
    table.tokenise("EMAIL", "jane.doe@example.com");
    table.tokenise("CARD", "4111 1111 1111 1111");
    table.tokenise("NATIONAL_ID", "536-22-1234");
    Arc::new(table)
}

fn streamed(table: &Arc<TokenTable>, chunks: &[&str]) -> (String, RestoreStats) {
    let mut restorer = StreamRestorer::new(Arc::clone(table), Escape::None);
    let mut out = String::new();
    for chunk in chunks {
        out.push_str(&restorer.push(chunk));
        assert!(restorer.held_len() <= crate::MAX_TOKEN_LEN);
    }
    out.push_str(&restorer.flush());
    (out, restorer.stats())
}

fn whole(table: &TokenTable, text: &str) -> (String, RestoreStats) {
    let mut stats = RestoreStats::default();
    (
        restore_text(text, table, Escape::None, &mut stats).into_owned(),
        stats,
    )
}

#[test]
fn token_split_at_every_position() {
    let table = table();
    let text = "Write to ⟦EMAIL_1⟧ about ⟦NATIONAL_ID_1⟧.";
    for split in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
        let (out, stats) = streamed(&table, &[&text[..split], &text[split..]]);
        assert_eq!(
            out, "Write to jane.doe@example.com about 536-22-1234.",
            "split at {split}"
        );
        assert_eq!(stats.restored, 2);
    }
}

#[test]
fn releases_everything_but_a_possible_prefix() {
    let table = table();
    let mut restorer = StreamRestorer::new(Arc::clone(&table), Escape::None);
    assert_eq!(restorer.push("Hello "), "Hello ");
    assert_eq!(restorer.push("there ⟦EM"), "there ");
    assert_eq!(restorer.push("AIL_1⟧ and ⟦"), "jane.doe@example.com and ");
    assert_eq!(restorer.push("oops"), "⟦oops");
    assert_eq!(restorer.push(" ⟦CARD_"), " ");
    assert_eq!(restorer.flush(), "⟦CARD_");
    assert_eq!(
        restorer.stats(),
        RestoreStats {
            restored: 1,
            unknown: 0,
            malformed: 2
        }
    );
}

#[test]
fn chat_chunks_restore_content_and_tool_arguments() {
    let mut restorer = ChatStreamRestorer::new(table());
    let mut chunks = [
        json!({ "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "Mail ⟦EMA" } }] }),
        json!({ "choices": [{ "index": 0, "delta": { "content": "IL_1⟧ now ⟦CA" } }] }),
        json!({ "choices": [{ "index": 0, "delta": { "tool_calls": [
            { "index": 0, "id": "c", "function": { "name": "f", "arguments": "{\"to\":\"⟦EMAIL" } }] } }] }),
        json!({ "choices": [{ "index": 0, "delta": { "tool_calls": [
            { "index": 0, "function": { "arguments": "_1⟧\"}" } }] } }] }),
        json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }] }),
    ];
    for chunk in &mut chunks {
        restorer.restore_chunk(chunk);
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "Mail ");
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["content"],
        "jane.doe@example.com now "
    );
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"to\":\""
    );
    assert_eq!(
        chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "jane.doe@example.com\"}"
    );
    assert_eq!(
        chunks[4]["choices"][0]["delta"]["content"], "⟦CA",
        "held tail flushed at finish"
    );
    let (tail, stats) = restorer.finish();
    assert!(tail.is_none());
    assert_eq!(
        stats,
        RestoreStats {
            restored: 2,
            unknown: 0,
            malformed: 1
        }
    );
}

#[test]
fn finish_returns_held_tails_when_the_stream_stops_early() {
    let mut restorer = ChatStreamRestorer::new(table());
    let mut chunk = json!({ "choices": [{ "index": 2, "delta": { "content": "x ⟦CARD_1" } }] });
    restorer.restore_chunk(&mut chunk);
    assert_eq!(chunk["choices"][0]["delta"]["content"], "x ");
    let (tail, stats) = restorer.finish();
    assert_eq!(
        tail,
        Some(json!({ "choices": [{ "index": 2, "delta": { "content": "⟦CARD_1" } }] }))
    );
    assert_eq!(stats.malformed, 1);
}

/// Texts made of `fixed` pieces and runs of the `free` patterns.
fn text_of(
    fixed: &'static [&'static str],
    free: [&'static str; 2],
) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(fixed).prop_map(str::to_owned),
        free[0],
        free[1],
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn text_with_tokens() -> impl Strategy<Value = String> {
    text_of(
        &[
            "⟦EMAIL_1⟧",
            "⟦CARD_1⟧",
            "⟦NATIONAL_ID_1⟧",
            "⟦EMAIL_7⟧",
            "⟦",
            "⟧",
            "⟦CARD_",
        ],
        ["[A-Z_0-9]{0,4}", "[a-zé ]{0,6}"],
    )
}

/// `text` cut at the char boundaries among `cuts`.
fn chunks_at<'t>(text: &'t str, cuts: &[prop::sample::Index]) -> Vec<&'t str> {
    let mut bounds: Vec<usize> = cuts
        .iter()
        .map(|c| c.index(text.len() + 1))
        .filter(|&i| text.is_char_boundary(i))
        .collect();
    bounds.push(0);
    bounds.push(text.len());
    bounds.sort_unstable();
    bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect()
}

proptest! {
    #[test]
    fn any_split_matches_whole_restore(text in text_with_tokens(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let table = table();
        let chunks = chunks_at(&text, &cuts);
        prop_assert_eq!(streamed(&table, &chunks), whole(&table, &text));
    }
}

fn json_text_with_tokens() -> impl Strategy<Value = String> {
    text_of(
        &[
            "\\u27e6EMAIL_1\\u27e7",
            "\\u27E6CARD_1⟧",
            "⟦\\u004eATIONAL_ID_1\\u27e7",
            "\\u27e6EMAIL_7\\u27e7",
            "\\\\u27e6EMAIL_1\\u27e7",
            "\\u27e6",
            "\\\"",
            "\\u00e9\\ud83d\\ude00",
            "⟦CARD_",
        ],
        ["[A-Z_0-9]{0,4}", "[a-z\": ]{0,6}"],
    )
}

fn streamed_json(table: &Arc<TokenTable>, chunks: &[&str]) -> (String, RestoreStats) {
    let mut restorer = StreamRestorer::new(Arc::clone(table), Escape::JsonString);
    let mut out = String::new();
    for chunk in chunks {
        out.push_str(&restorer.push(chunk));
        assert!(restorer.held_len() <= 6 * crate::MAX_TOKEN_LEN);
    }
    out.push_str(&restorer.flush());
    (out, restorer.stats())
}

#[test]
fn escaped_token_in_tool_arguments_split_at_every_position() {
    let table = table();
    let text = r#"{"to": "\u27e6EMAIL_1\u27e7", "id": "\u27E6NATIONAL_ID_1\u27E7"}"#;
    for split in 0..=text.len() {
        let (out, stats) = streamed_json(&table, &[&text[..split], &text[split..]]);
        assert_eq!(
            out, r#"{"to": "jane.doe@example.com", "id": "536-22-1234"}"#,
            "split at {split}"
        );
        assert_eq!(stats.restored, 2, "split at {split}");
    }
}

#[test]
fn chat_chunks_restore_escaped_arguments() {
    let mut restorer = ChatStreamRestorer::new(table());
    // As a Python server streams them: the arguments text escapes the token,
    // cut inside an escape.
    let mut chunks = [
        json!({ "choices": [{ "index": 0, "delta": { "tool_calls": [
            { "index": 0, "id": "c", "function": { "name": "f", "arguments": "{\"to\": \"\\u27" } }] } }] }),
        json!({ "choices": [{ "index": 0, "delta": { "tool_calls": [
            { "index": 0, "function": { "arguments": "e6EMAIL_1\\u27e7\"}" } }] } }] }),
    ];
    for chunk in &mut chunks {
        restorer.restore_chunk(chunk);
    }
    let args: String = chunks
        .iter()
        .map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(args, r#"{"to": "jane.doe@example.com"}"#);
}

proptest! {
    #[test]
    fn any_split_of_json_text_matches_whole_restore(text in json_text_with_tokens(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let table = table();
        let chunks = chunks_at(&text, &cuts);
        let mut stats = RestoreStats::default();
        let whole = restore_text(&text, &table, Escape::JsonString, &mut stats).into_owned();
        prop_assert_eq!(streamed_json(&table, &chunks), (whole, stats));
    }
}

/// The text and tool-call arguments of decoded events, in order.
fn said(events: &[StreamEvent]) -> (String, String) {
    let mut text = String::new();
    let mut args = String::new();
    for e in events {
        match e {
            StreamEvent::TextDelta { text: t, .. } => text.push_str(t),
            StreamEvent::ToolCallDelta { arguments, .. } => args.push_str(arguments),
            _ => {}
        }
    }
    (text, args)
}

#[test]
fn decoded_events_are_restored_at_every_split_and_flushed_before_the_stop() {
    use signalbox_core::canonical::StopReason;
    let table = table();
    let text = "Write to ⟦EMAIL_1⟧ now";
    let args = r#"{"to": "\u27e6EMAIL_1\u27e7"}"#;
    for split in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
        let cut = split.min(args.len());
        let mut restorer = ChatStreamRestorer::new(Arc::clone(&table));
        let mut all = Vec::new();
        for (t, a) in [
            (&text[..split], &args[..cut]),
            (&text[split..], &args[cut..]),
        ] {
            let mut events = vec![
                StreamEvent::TextDelta {
                    choice: 0,
                    text: t.to_owned(),
                },
                StreamEvent::ToolCallDelta {
                    choice: 0,
                    index: 0,
                    arguments: a.to_owned(),
                },
            ];
            restorer.restore_events(&mut events);
            all.extend(events);
        }
        // A token cut by the end of the text is held until the stop.
        let mut stop = vec![StreamEvent::Stop {
            choice: 0,
            reason: StopReason::Stop,
        }];
        restorer.restore_events(&mut stop);
        assert!(matches!(stop.last(), Some(StreamEvent::Stop { .. })));
        all.extend(stop);
        let (t, a) = said(&all);
        assert_eq!(t, "Write to jane.doe@example.com now", "split at {split}");
        assert_eq!(a, r#"{"to": "jane.doe@example.com"}"#, "split at {split}");
        let (tail, stats) = restorer.finish_events();
        assert!(tail.is_empty(), "split at {split}: {tail:?}");
        assert_eq!(stats.restored, 2, "split at {split}");
        // No delta is left empty by holding a prefix back.
        assert!(
            !all.iter()
                .any(|e| matches!(e, StreamEvent::TextDelta { text, .. } if text.is_empty()))
        );
    }
}

#[test]
fn decoded_events_ending_without_a_stop_release_what_was_held() {
    let table = table();
    let mut restorer = ChatStreamRestorer::new(Arc::clone(&table));
    let mut events = vec![StreamEvent::TextDelta {
        choice: 0,
        text: "to ⟦EMA".into(),
    }];
    restorer.restore_events(&mut events);
    let (tail, _) = restorer.finish_events();
    let (text, _) = said(&[events, tail].concat());
    assert_eq!(text, "to ⟦EMA");
}
