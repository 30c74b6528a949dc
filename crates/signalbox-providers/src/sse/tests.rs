use proptest::prelude::*;

use super::*;

fn all_events(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut f = SseFramer::new();
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(e) = f.next_event().unwrap() {
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
    assert!(f.next_event().unwrap().is_none());
    f.push(b"lo\n");
    assert!(f.next_event().unwrap().is_none());
    f.push(b"\n");
    assert_eq!(f.next_event().unwrap().unwrap().data, "hello");
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

#[test]
fn an_event_without_its_end_fails_past_the_cap_and_holds_no_more() {
    const CAP: usize = 64 * 1024;
    let mut f = SseFramer::with_max_event_bytes(CAP);
    f.push(b"data: ");
    let mut sent = 6;
    let chunk = [b'x'; 1000];
    let err = loop {
        f.push(&chunk);
        sent += chunk.len();
        match f.next_event() {
            Ok(None) => {
                assert!(sent <= CAP, "still buffering at {sent} bytes");
                assert_eq!(f.pending_len(), sent);
            }
            Ok(Some(ev)) => panic!("no event ended: {ev:?}"),
            Err(e) => break e,
        }
    };
    assert!(sent > CAP && sent <= CAP + chunk.len(), "failed at {sent}");
    assert_eq!(err, EventTooLarge { limit: CAP });
    // Everything held is dropped, and nothing more is taken in.
    assert_eq!(f.pending_len(), 0);
    f.push(&chunk);
    assert_eq!(f.pending_len(), 0);
    assert!(f.next_event().is_err());
}

#[test]
fn an_event_of_exactly_the_cap_passes_one_byte_more_fails() {
    let event = |len: usize| {
        let mut e = b"data: ".to_vec();
        e.resize(len - 2, b'y');
        e.extend_from_slice(b"\n\n");
        e
    };
    const CAP: usize = 4096;
    for (len, ok) in [(CAP, true), (CAP + 1, false)] {
        // Whole, and byte by byte: the same answer.
        let mut whole = SseFramer::with_max_event_bytes(CAP);
        whole.push(&event(len));
        assert_eq!(whole.next_event().is_ok(), ok, "len {len}");
        let mut trickled = SseFramer::with_max_event_bytes(CAP);
        let mut result = Ok(None);
        for b in event(len) {
            trickled.push(&[b]);
            result = trickled.next_event();
            assert!(trickled.pending_len() <= CAP);
            if !matches!(result, Ok(None)) {
                break;
            }
        }
        assert_eq!(result.is_ok(), ok, "len {len} trickled");
        if ok {
            assert_eq!(result.unwrap().unwrap().raw.len(), CAP);
        }
    }
}

#[test]
fn many_data_lines_without_a_blank_line_are_one_event_and_capped() {
    let mut f = SseFramer::with_max_event_bytes(4096);
    let mut failed = false;
    for _ in 0..1000 {
        f.push(b"data: x\n");
        if f.next_event().is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
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
            while let Ok(Some(_)) = f.next_event() {}
        }
        let _ = f.take_pending();
    }
}
