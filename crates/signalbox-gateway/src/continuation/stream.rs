//! Owns the stream a continuation-armed response reads: the first route's
//! pieces, noted as they pass; on a break, the continuation awaited; then
//! the continuing route's pieces with their head taken off and the marks
//! asked for. It also ends the request's tail once, with both parts.

use std::pin::Pin;
use std::sync::Arc;

use parking_lot::Mutex;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use signalbox_core::metric_names as m;
use signalbox_core::{ContinuedRecord, RouteIdx};
use signalbox_dispatch::{CommittedStream, Piece, StreamEnd, StreamOutcome};

use super::delivered::{Delivered, Head};
use super::mark::Marks;
use super::{Continuation, Resumed};
use crate::finish::{ContinuedEnd, StreamTail};

/// Where each part's end lands (its `on_end` runs inside its last poll).
#[derive(Clone, Default)]
pub(crate) struct Ends(Arc<Mutex<[Option<StreamEnd>; 2]>>);

impl Ends {
    /// The `on_end` of part `i` (0: the first route's, 1: the continuation's).
    pub fn setter(&self, i: usize) -> impl FnOnce(StreamEnd) + Send + 'static {
        let slots = Arc::clone(&self.0);
        move |end| {
            if let Some(slot) = slots.lock().get_mut(i) {
                *slot = Some(end);
            }
        }
    }

    fn take(&self, i: usize) -> StreamEnd {
        let mut slots = self.0.lock();
        slots
            .get_mut(i)
            .and_then(Option::take)
            .unwrap_or(StreamEnd {
                outcome: StreamOutcome::Cancelled,
                usage: None,
                events: 0,
                elapsed: std::time::Duration::ZERO,
                model: None,
            })
    }
}

enum Phase {
    /// The first route's stream.
    First,
    /// It broke; the continuation is being asked for.
    Resuming {
        future: BoxFuture<'static, Resumed>,
        detail: String,
    },
    /// The continuing route's stream.
    Continued,
    /// Ended (the tail has run).
    Over,
}

/// The first route's stream, continued on another route if it breaks.
pub(crate) struct ContinuingStream {
    current: Option<CommittedStream>,
    phase: Phase,
    armed: Option<Box<Continuation>>,
    delivered: Delivered,
    /// What the continuation delivered (its stop asks for the last mark).
    continued: Delivered,
    head: Head,
    marks: Marks,
    ends: Ends,
    tail: Option<StreamTail>,
    /// The record's facts and the continuation's attempts, once it began.
    facts: Option<ContinuedEnd>,
    to: Option<RouteIdx>,
    from: RouteIdx,
    request_id: String,
}

impl ContinuingStream {
    /// `first` (whose `on_end` is `ends.setter(0)`), served by `from`.
    pub(crate) fn new(
        first: CommittedStream,
        from: RouteIdx,
        armed: Box<Continuation>,
        (ends, marks): (Ends, Marks),
        tail: StreamTail,
        request_id: String,
    ) -> Self {
        Self {
            current: Some(first),
            phase: Phase::First,
            armed: Some(armed),
            delivered: Delivered::default(),
            continued: Delivered::default(),
            head: Head::new(false),
            marks,
            ends,
            tail: Some(tail),
            facts: None,
            to: None,
            from,
            request_id,
        }
    }

    /// On a break: the continuation's future, when one may be asked for.
    fn start(&mut self, detail: &str) -> Option<BoxFuture<'static, Resumed>> {
        let armed = self.armed.take()?;
        let telemetry = &armed.state.telemetry;
        if self.delivered.not_text || self.delivered.stopped || !armed.has_candidates() {
            telemetry.count(
                m::STREAM_CONTINUATIONS_TOTAL,
                &[("outcome", "not_possible")],
            );
            return None;
        }
        let (prefill, trimmed) = self.delivered.prefill();
        self.head = Head::new(trimmed);
        self.facts = Some(ContinuedEnd {
            facts: ContinuedRecord {
                from: armed.route_name(self.from),
                to: None,
                detail: detail.to_owned(),
                delivered_chars: prefill.chars().count() as u64,
            },
            second: None,
            attempts: Vec::new(),
            skipped: Vec::new(),
        });
        let prefill = prefill.to_owned();
        Some(Box::pin(async move {
            let state = Arc::clone(&armed.state);
            let resumed = armed.resume(prefill).await;
            let outcome = if resumed.served.is_some() {
                "continued"
            } else {
                "failed"
            };
            state
                .telemetry
                .count(m::STREAM_CONTINUATIONS_TOTAL, &[("outcome", outcome)]);
            resumed
        }))
    }

    /// Takes the continuation's result: its stream becomes the current
    /// one (`None` returned), or the caller gets the original break.
    fn resumed(&mut self, resumed: Resumed, detail: String) -> Option<Piece> {
        let Resumed {
            served,
            attempts,
            skipped,
        } = resumed;
        if let Some(f) = self.facts.as_mut() {
            f.attempts = attempts;
            f.skipped = skipped;
        }
        let Some((to, stream)) = served else {
            self.settle();
            return Some(Piece::Cut(detail));
        };
        let to_name = self
            .tail
            .as_ref()
            .and_then(|t| t.runtime.routes.get(to))
            .map_or_else(String::new, |r| r.id.to_string());
        if let Some(f) = self.facts.as_mut() {
            f.facts.to = Some(to_name);
        }
        self.to = Some(to);
        self.current = Some(stream.on_end(self.ends.setter(1)));
        self.phase = Phase::Continued;
        self.marks.lock().first = Some(self.marker());
        None
    }

    /// The `signalbox` field of the marked chunks.
    fn marker(&self) -> Value {
        let facts = self.facts.as_ref().map(|f| &f.facts);
        json!({
            "continued": {
                "from": facts.map(|f| f.from.as_str()),
                "to": facts.and_then(|f| f.to.as_deref()),
                "after_chars": facts.map(|f| f.delivered_chars),
            },
            "request_id": self.request_id,
        })
    }

    /// A continued piece on its way out: the last mark asked for at its stop.
    fn pass_continued(&mut self, piece: &Piece) {
        let stopped = self.continued.stopped;
        self.continued.note(piece);
        if !stopped && self.continued.stopped {
            let mark = self.marker();
            self.marks.lock().last = Some(mark);
        }
    }

    /// Ends the tail once, with whatever parts there were.
    fn settle(&mut self) {
        self.phase = Phase::Over;
        let Some(tail) = self.tail.take() else { return };
        let first = self.ends.take(0);
        let Some(mut facts) = self.facts.take() else {
            return tail.end(first);
        };
        if let Some(to) = self.to {
            facts.second = Some((to, self.ends.take(1)));
        }
        tail.settle(first, Some(facts));
    }
}

impl Stream for ContinuingStream {
    type Item = Piece;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        let this = self.get_mut();
        loop {
            if let Phase::Resuming { future, detail } = &mut this.phase {
                let resumed = ready!(future.as_mut().poll(cx));
                let detail = std::mem::take(detail);
                match this.resumed(resumed, detail) {
                    Some(cut) => return Poll::Ready(Some(cut)),
                    None => continue,
                }
            }
            let Some(current) = this.current.as_mut() else {
                return Poll::Ready(None);
            };
            let Some(piece) = ready!(Pin::new(current).poll_next(cx)) else {
                this.current = None;
                return Poll::Ready(None);
            };
            let last = matches!(piece, Piece::End { .. } | Piece::Cut(_));
            match (&this.phase, piece) {
                (Phase::First, Piece::Cut(detail)) => {
                    if let Some(future) = this.start(&detail) {
                        this.phase = Phase::Resuming { future, detail };
                        continue;
                    }
                    this.settle();
                    return Poll::Ready(Some(Piece::Cut(detail)));
                }
                (Phase::First, piece) => {
                    this.delivered.note(&piece);
                    if last {
                        this.settle();
                    }
                    return Poll::Ready(Some(piece));
                }
                (Phase::Continued, piece) => {
                    let Some(piece) = this.head.strip(piece) else {
                        continue;
                    };
                    this.pass_continued(&piece);
                    if last {
                        this.settle();
                    }
                    return Poll::Ready(Some(piece));
                }
                (_, piece) => return Poll::Ready(Some(piece)),
            }
        }
    }
}

impl Drop for ContinuingStream {
    /// The caller went away: the current part is dropped first (its
    /// `on_end` reports it cancelled), then the tail ends with both parts.
    fn drop(&mut self) {
        if self.tail.is_some() {
            self.current = None;
            self.settle();
        }
    }
}
