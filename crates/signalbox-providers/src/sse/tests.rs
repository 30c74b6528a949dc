use proptest::prelude::*;

use super::*;

fn all_events(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut f = SseFramer::new();
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(e) = f.next_event() {
            out.push(e);
        }
    }
    out
}

#[test]
fn frames_simple_events() {
    let ev = all_events(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].data, "{\"a\":1}");
    assert_eq!(&ev[0].raw[..], b"data: {\"a\":1}\n\n");
    assert!(ev[1].is_done());
}

#[test]
fn joins_multiline_data_and_reads_event_names() {
    let ev = all_events(&[b"event: delta\r\ndata: a\r\ndata: b\r\n\r\n"]);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].data, "a\nb");
    assert_eq!(ev[0].event.as_deref(), Some("delta"));
}

#[test]
fn keeps_partial_events_pending() {
    let mut f = SseFramer::new();
    f.push(b"data: hel");
    assert!(f.next_event().is_none());
    f.push(b"lo\n");
    assert!(f.next_event().is_none());
    f.push(b"\n");
    assert_eq!(f.next_event().unwrap().data, "hello");
    assert_eq!(f.pending_len(), 0);
}

#[test]
fn comments_are_events_without_data() {
    let ev = all_events(&[b": keep-alive\n\n"]);
    assert_eq!(ev.len(), 1);
    assert!(ev[0].is_comment_only());
}

#[test]
fn lone_cr_line_endings() {
    // A trailing `\r` may be half of `\r\n`, so the last event waits for the
    // next byte before it is complete.
    let ev = all_events(&[b"data: x\r", b"\rdata: y\r\r"]);
    let data: Vec<&str> = ev.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["x"]);
    let ev = all_events(&[b"data: x\r", b"\rdata: y\r\r", b": next\n\n"]);
    let data: Vec<&str> = ev.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(data, ["x", "y", ""]);
}

fn stream_text() -> impl Strategy<Value = Vec<u8>> {
    let event = prop_oneof![
        "[a-z{}\":0-9 ]{0,20}".prop_map(|d| format!("data: {d}\n\n")),
        "[a-z]{1,8}".prop_map(|d| format!("event: e\ndata: {d}\r\n\r\n")),
        Just(": ping\n\n".to_string()),
        Just("data: [DONE]\n\n".to_string()),
    ];
    proptest::collection::vec(event, 0..8).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    // Splitting the stream at any points yields the same events and the same
    // raw bytes as feeding it whole.
    #[test]
    fn split_points_do_not_matter(text in stream_text(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let whole = all_events(&[&text]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&text[last..p]);
            last = p;
        }
        chunks.push(&text[last..]);
        let split = all_events(&chunks);
        prop_assert_eq!(&split, &whole);
        let raw: Vec<u8> = whole.iter().flat_map(|e| e.raw.to_vec()).collect();
        prop_assert_eq!(raw, text);
    }

    #[test]
    fn never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 0..8)) {
        let mut f = SseFramer::new();
        for c in &chunks {
            f.push(c);
            while f.next_event().is_some() {}
        }
        let _ = f.take_pending();
    }
}
