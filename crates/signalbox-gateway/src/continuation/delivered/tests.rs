//! What a broken stream delivered, read from each kind of piece, and the
//! head a continuation's pieces lose.

use bytes::Bytes;
use signalbox_core::canonical::{StopReason, StreamEvent};
use signalbox_dispatch::Piece;

use super::*;

fn wire(s: &'static str) -> Piece {
    Piece::Wire(Bytes::from_static(s.as_bytes()))
}

fn text(piece: Option<Piece>) -> String {
    match piece {
        Some(Piece::Wire(b)) => String::from_utf8(b.to_vec()).unwrap_or_default(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

#[test]
fn openai_chunks_passed_on_yield_choice_zeros_text() {
    let mut d = Delivered::default();
    d.note(&wire(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    ));
    d.note(&wire(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello \"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"wor\"}}]}\n\n",
    ));
    assert_eq!(d.text, "Hello wor");
    assert!(!d.not_text && !d.stopped);
    d.note(&wire(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0}]}}]}\n\n",
    ));
    assert!(d.not_text, "a tool call cannot be continued from a prefill");
}

#[test]
fn anthropic_events_passed_on_yield_the_text_block() {
    let mut d = Delivered::default();
    d.note(&wire(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour\"}}\n\n",
    ));
    assert_eq!(d.text, "Bonjour");
    assert!(!d.not_text);
    d.note(&wire(
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\"}}\n\n",
    ));
    assert!(d.not_text);
}

#[test]
fn decoded_events_yield_text_and_their_stop() {
    let mut d = Delivered::default();
    d.note(&Piece::Events(vec![
        StreamEvent::Start {
            id: "x".into(),
            model: "m".into(),
        },
        StreamEvent::TextDelta {
            choice: 0,
            text: "Hi there ".into(),
        },
    ]));
    assert_eq!(
        d.prefill(),
        ("Hi there", true),
        "trailing whitespace trimmed"
    );
    d.note(&Piece::Events(vec![StreamEvent::Stop {
        choice: 0,
        reason: StopReason::Stop,
    }]));
    assert!(d.stopped);
}

#[test]
fn a_continuations_head_is_dropped_and_its_first_text_trimmed() {
    let mut head = Head::new(true);
    let role = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    assert!(head.strip(wire(role)).is_none(), "a second role chunk");
    let out = text(head.strip(wire(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" again\"}}]}\n\n",
    )));
    assert!(
        out.starts_with("data: {\"choices\":[{\"delta\":{\"content\":\"world\"}"),
        "{out}"
    );
    assert!(
        out.ends_with("{\"content\":\" again\"}}]}\n\n"),
        "only the first text is trimmed: {out}"
    );
    // After the head, pieces pass untouched.
    assert_eq!(text(head.strip(wire(role))), role);
}

#[test]
fn an_anthropic_continuations_message_and_block_starts_are_dropped() {
    let mut head = Head::new(false);
    let out = text(head.strip(wire(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"rest\"}}\n\n",
    )));
    assert!(
        out.starts_with("event: content_block_delta\ndata: {"),
        "{out}"
    );
    assert!(out.contains("\"text\":\"rest\""), "{out}");
    assert_eq!(out.matches("data:").count(), 1, "{out}");
}

#[test]
fn decoded_starts_are_dropped_until_the_first_text() {
    let mut head = Head::new(false);
    let start = StreamEvent::Start {
        id: "y".into(),
        model: "m2".into(),
    };
    assert!(head.strip(Piece::Events(vec![start.clone()])).is_none());
    let rest = head.strip(Piece::Events(vec![
        StreamEvent::TextDelta {
            choice: 0,
            text: "tail".into(),
        },
        start.clone(),
    ]));
    let Some(Piece::Events(events)) = rest else {
        panic!("{rest:?}")
    };
    assert_eq!(events.len(), 2, "after the head nothing is dropped");
}
