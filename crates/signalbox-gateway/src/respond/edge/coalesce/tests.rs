use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use super::{Coalesce, MAX_HELD};

/// What the inner stream answers to one poll.
#[derive(Clone)]
enum Step {
    Data(&'static str),
    Big(usize),
    /// Nothing now (the upstream's next chunk needs a scheduler round).
    Wait,
}

/// An upstream answering a script, then ending.
struct Script(VecDeque<Step>);

impl Stream for Script {
    type Item = Result<Bytes, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.pop_front() {
            None => Poll::Ready(None),
            Some(Step::Wait) => Poll::Pending,
            Some(Step::Data(s)) => Poll::Ready(Some(Ok(Bytes::from_static(s.as_bytes())))),
            Some(Step::Big(n)) => Poll::Ready(Some(Ok(Bytes::from(vec![b'x'; n])))),
        }
    }
}

/// What a client would read, poll by poll: `Some(text)` a write, `None`
/// a poll that wrote nothing. Stops at the end of the stream.
fn writes(script: &[Step]) -> Vec<Option<String>> {
    let mut stream = Coalesce::new(Script(script.iter().cloned().collect()));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    for _ in 0..100 {
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Pending => out.push(None),
            Poll::Ready(Some(Ok(b))) => out.push(Some(String::from_utf8_lossy(&b).into_owned())),
            Poll::Ready(None) => return out,
        }
    }
    panic!("the stream never ended: {out:?}");
}

fn w(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn the_first_piece_is_never_held() {
    use Step::*;
    assert_eq!(writes(&[Data("a"), Data("b")])[0], w("a"));
}

#[test]
fn pieces_arriving_round_after_round_leave_in_one_write() {
    use Step::*;
    let script = [
        Data("a"),
        Data("b"),
        Wait,
        Data("c"),
        Wait,
        Data("d"),
        Wait,
        Wait,
    ];
    assert_eq!(writes(&script), [w("a"), None, None, None, w("bcd")]);
}

#[test]
fn pieces_apart_in_time_leave_one_by_one() {
    use Step::*;
    // Each later piece waits one round (the upstream's), then leaves alone.
    let script = [
        Data("a"),
        Wait,
        Data("b"),
        Wait,
        Wait,
        Data("c"),
        Wait,
        Wait,
    ];
    assert_eq!(writes(&script), [w("a"), None, None, w("b"), None, w("c")]);
}

#[test]
fn the_end_writes_what_is_held() {
    use Step::*;
    assert_eq!(
        writes(&[Data("a"), Data("b"), Data("c")]),
        [w("a"), w("bc")]
    );
}

#[test]
fn held_bytes_leave_once_they_reach_the_limit() {
    use Step::*;
    let script = [
        Data("a"),
        Big(MAX_HELD / 2),
        Big(MAX_HELD / 2),
        Big(10),
        Wait,
        Wait,
    ];
    let lens: Vec<_> = writes(&script)
        .into_iter()
        .map(|w| w.map_or(0, |s| s.len()))
        .collect();
    assert_eq!(lens, [1, MAX_HELD, 0, 10]);
}
