//! Owns the in-band marks of a continued stream: a `signalbox` field on the
//! first chunk the continuation wrote and on the answer's final chunk,
//! naming both routes. The pieces are marked after the edge wrote them in
//! the client's format, so one rule serves every format (an OpenAI chunk,
//! an Anthropic event, a Responses event: each a JSON object on a `data:`
//! line).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

use crate::respond::degraded::{Which, mark_event};

/// Marks the continuing stream asks for, taken by the next bytes written.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// For the first JSON event of the next bytes.
    pub first: Option<Value>,
    /// For the last JSON event of the next bytes that have one.
    pub last: Option<Value>,
}

/// Shared between the continuing stream (which asks) and [`Marked`]
/// (which marks); locked once per piece, never across an await.
pub(crate) type Marks = Arc<Mutex<Pending>>;

/// The edge's bytes, marked where [`Marks`] asks.
pub(crate) struct Marked<S> {
    inner: S,
    marks: Marks,
}

impl<S> Marked<S> {
    pub fn new(inner: S, marks: Marks) -> Self {
        Self { inner, marks }
    }
}

impl<S> Stream for Marked<S>
where
    S: Stream<Item = Result<Bytes, Infallible>> + Unpin,
{
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let bytes = match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) if !bytes.is_empty() => bytes,
            other => return other,
        };
        let mut pending = self.marks.lock();
        let mut out = bytes;
        if let Some(mark) = pending.first.take() {
            out = mark_event(out, &mark, Which::First).unwrap_or_else(|b| {
                pending.first = Some(mark);
                b
            });
        }
        if let Some(mark) = pending.last.take() {
            out = mark_event(out, &mark, Which::Last).unwrap_or_else(|b| {
                pending.last = Some(mark);
                b
            });
        }
        Poll::Ready(Some(Ok(out)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_first_or_last_json_event_gets_the_mark_and_framing_is_kept() {
        let events = Bytes::from_static(
            b"data: {\"a\":1}\n\n: keepalive\n\nevent: x\ndata: {\"b\":2}\n\ndata: [DONE]\n\n",
        );
        let mark = json!({"continued": {"from": "p", "to": "s"}});
        let first = mark_event(events.clone(), &mark, Which::First).unwrap();
        let text = std::str::from_utf8(&first).unwrap();
        assert!(text.starts_with("data: {\"a\":1,\"signalbox\":"), "{text}");
        assert!(
            text.ends_with("event: x\ndata: {\"b\":2}\n\ndata: [DONE]\n\n"),
            "{text}"
        );
        let last = mark_event(events, &mark, Which::Last).unwrap();
        let text = std::str::from_utf8(&last).unwrap();
        assert!(text.starts_with("data: {\"a\":1}\n\n"), "{text}");
        assert!(
            text.contains("event: x\ndata: {\"b\":2,\"signalbox\":{\"continued\""),
            "{text}"
        );
        assert!(text.ends_with("\n\ndata: [DONE]\n\n"), "{text}");
    }

    #[test]
    fn bytes_without_a_json_event_are_left_for_the_next() {
        let done = Bytes::from_static(b"data: [DONE]\n\n");
        assert_eq!(mark_event(done.clone(), &json!(1), Which::Last), Err(done));
    }
}
