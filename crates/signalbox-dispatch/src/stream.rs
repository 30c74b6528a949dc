//! A committed stream: the caller has (or is about to have) the first event,
//! so failover is over. What the stream yields is a [`Piece`]: whole
//! events passed on as the provider wrote them (the client reads that
//! format; framed once, here), or typed events a decoder produced (the
//! gateway's edge encodes them in the client's format), then its end or
//! its cut. An upstream failure after the commit point is a
//! [`Piece::Cut`], which the edge turns into an explicit error event:
//! never a silent splice of another model's output.
//!
//! A stream passed on as written is complete when it reaches its end
//! marker (`data: [DONE]`, `message_stop`, `response.completed`), or when a choice's
//! `finish_reason` arrived and the upstream then ended its body cleanly:
//! several self-hosted servers never send `[DONE]` (the edge writes it).
//! A decoded stream is complete when its decoder ends cleanly, which it
//! does only after a stop. A body that ends before any finish is a cut,
//! as is an event longer than the provider's `max-stream-event-bytes`.

mod wire;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use signalbox_config::Timeouts;
use signalbox_core::Usage;
use signalbox_core::canonical::StreamEvent;
use signalbox_providers::{ByteStream, Chunk, SseFramer};
use tokio::time::{Duration, Instant};

use crate::RouteHealth;
pub(crate) use wire::{Ending, validate_event};

/// The upstream body: bytes passed on, or decoded events.
pub(crate) type UpstreamBytes = ByteStream;

/// What a committed stream hands the gateway's edge, in order: pieces of
/// the answer, then exactly one [`Piece::End`] or [`Piece::Cut`] (none
/// when the caller went away first).
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Whole SSE events in the client's own wire format, as the provider
    /// wrote them.
    Wire(Bytes),
    /// Typed events, for the edge to encode in the client's format.
    Events(Vec<StreamEvent>),
    /// The answer is complete. `marked`: the events passed on already
    /// carried their format's end marker; otherwise the edge writes the
    /// client's.
    End {
        /// The end marker was among the events passed on.
        marked: bool,
    },
    /// The stream broke after commit (a secret-free detail); the edge ends
    /// it with an explicit error event.
    Cut(String),
}

/// How a committed stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// The upstream finished its answer.
    Completed,
    /// The upstream failed or closed early; the caller got an error event.
    Cut {
        /// What went wrong (secret-free).
        detail: String,
    },
    /// The caller went away first; dropping the stream cancelled the upstream.
    Cancelled,
}

/// Reported once when a committed stream ends, however it ends.
#[derive(Debug, Clone)]
pub struct StreamEnd {
    /// How it ended.
    pub outcome: StreamOutcome,
    /// Usage, if the upstream reported it in the stream. An Anthropic
    /// stream reports its input tokens first and its output tokens last:
    /// ended before that last report (cut, or the caller went away), its
    /// output is counted as at least one token per event forwarded, as a
    /// stream that reports nothing is priced, never as the placeholder of
    /// its first event.
    pub usage: Option<Usage>,
    /// Events forwarded to the caller.
    pub events: u64,
    /// Time since the stream was committed.
    pub elapsed: std::time::Duration,
    /// The model the stream's first event says answered, when it said.
    pub model: Option<String>,
}

type OnEnd = Box<dyn FnOnce(StreamEnd) + Send>;

/// The rest of an upstream stream after the commit point.
pub struct CommittedStream {
    first: Option<Piece>,
    inner: Option<UpstreamBytes>,
    framer: SseFramer,
    ending: Ending,
    usage: Option<Usage>,
    /// The usage seen is the answer's whole usage (an OpenAI usage chunk,
    /// a decoded stream's, or Anthropic's `message_delta`).
    usage_final: bool,
    /// The model the first event named.
    model: Option<String>,
    events: u64,
    started: Instant,
    on_end: Option<OnEnd>,
    /// Held until the stream ends (e.g. the route's capacity slot).
    held: Option<Box<dyn std::any::Any + Send>>,
    stall: Option<StallGuard>,
    /// The first events already carried the end marker.
    ended_at_commit: bool,
}

/// Catches streams that are "up" but silent or crawling, and reports them
/// (and any other cut) against the route's health.
struct StallGuard {
    idle: Duration,
    /// When silence becomes a stall; moved on by every chunk.
    deadline: Instant,
    /// Created on the first wait, so the first event is not delayed by a
    /// timer registration.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    min_rate: Option<f64>,
    window: Duration,
    window_start: Instant,
    window_events: u64,
    health: Arc<RouteHealth>,
}

impl std::fmt::Debug for CommittedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommittedStream")
            .field("ending", &self.ending)
            .field("events", &self.events)
            .finish()
    }
}

impl CommittedStream {
    /// The rest of a stream passed on as written, after its `first` events.
    pub(crate) fn new(
        first: Bytes,
        inner: UpstreamBytes,
        framer: SseFramer,
        ending: Ending,
    ) -> Self {
        Self::with_first(Piece::Wire(first), inner, framer, ending)
    }

    /// The rest of a decoded stream, after its `first` events.
    pub(crate) fn decoded(first: Vec<StreamEvent>, inner: UpstreamBytes) -> Self {
        let mut stream = Self::with_first(
            Piece::Events(Vec::new()),
            inner,
            SseFramer::new(),
            Ending::default(),
        );
        stream.events = 0;
        stream.note_events(&first);
        stream.first = Some(Piece::Events(first));
        stream
    }

    fn with_first(first: Piece, inner: UpstreamBytes, framer: SseFramer, ending: Ending) -> Self {
        Self {
            first: Some(first),
            inner: Some(inner),
            framer,
            ending,
            usage: None,
            usage_final: false,
            model: None,
            events: 1,
            started: Instant::now(),
            on_end: None,
            held: None,
            stall: None,
            ended_at_commit: ending.done,
        }
    }

    /// Ends the stream with a cut when no chunk arrives for
    /// `timeouts.idle`, or when fewer than `timeouts.min_tokens_per_second`
    /// events arrive per second over `timeouts.throughput_window`; any cut
    /// counts as a failure of the route.
    pub(crate) fn guard(mut self, timeouts: &Timeouts, health: Arc<RouteHealth>) -> Self {
        let now = Instant::now();
        self.stall = Some(StallGuard {
            idle: timeouts.idle,
            deadline: now + timeouts.idle,
            timer: None,
            min_rate: timeouts.min_tokens_per_second,
            window: timeouts.throughput_window,
            window_start: now,
            window_events: self.events,
            health,
        });
        self
    }

    /// Keeps `guard` alive until the stream ends.
    pub fn hold(&mut self, guard: Box<dyn std::any::Any + Send>) {
        self.held = Some(guard);
    }

    /// Registers a callback run exactly once when the stream ends
    /// (completed, cut, or dropped by the caller).
    pub fn on_end(mut self, f: impl FnOnce(StreamEnd) + Send + 'static) -> Self {
        self.on_end = Some(Box::new(f));
        self
    }

    fn finish(&mut self, outcome: StreamOutcome) {
        self.inner = None; // drop the upstream connection now
        self.held = None;
        if outcome == StreamOutcome::Completed
            && let Some(g) = &self.stall
        {
            g.health.record_ok();
        }
        if let Some(cb) = self.on_end.take() {
            cb(StreamEnd {
                outcome,
                usage: self.spent(),
                events: self.events,
                elapsed: self.started.elapsed(),
                model: self.model.take(),
            });
        }
    }

    fn complete(&mut self) -> Piece {
        self.finish(StreamOutcome::Completed);
        Piece::End {
            marked: self.ending.done,
        }
    }

    fn cut(&mut self, detail: String) -> Piece {
        if let Some(g) = &self.stall {
            g.health.record_failure("stream_cut");
        }
        self.finish(StreamOutcome::Cut {
            detail: detail.clone(),
        });
        Piece::Cut(detail)
    }

    /// Moves every complete event out of the framer. Returns the bytes to
    /// forward, or a cut when an event is malformed.
    fn drain(&mut self) -> Result<Option<Bytes>, String> {
        let mut out: Option<BytesMut> = None;
        let mut single: Option<Bytes> = None;
        while let Some(ev) = self.framer.next_event().map_err(|e| e.to_string())? {
            if self.ending.done {
                continue; // nothing after the end marker is forwarded
            }
            validate_event(&ev).map_err(|e| e.detail)?;
            self.ending.note(&ev);
            if self.ending.failed {
                return Err(wire::failure_detail(&ev));
            }
            if !ev.is_comment_only() {
                self.events += 1;
                self.note_usage(&ev);
                self.check_throughput()?;
            }
            match (&mut out, single.take()) {
                (None, None) => single = Some(ev.raw),
                (None, Some(prev)) => {
                    let mut buf = BytesMut::with_capacity(prev.len() + ev.raw.len());
                    buf.extend_from_slice(&prev);
                    buf.extend_from_slice(&ev.raw);
                    out = Some(buf);
                }
                (Some(buf), _) => buf.extend_from_slice(&ev.raw),
            }
        }
        Ok(out.map(BytesMut::freeze).or(single))
    }

    /// Notes decoded events: their stop, their usage, their count.
    fn note_events(&mut self, events: &[StreamEvent]) {
        for event in events {
            match event {
                StreamEvent::Usage(u) => {
                    self.usage = Some((*u).into());
                    self.usage_final = true;
                }
                StreamEvent::Start { model, .. } => {
                    if self.model.is_none() && !model.is_empty() {
                        self.model = Some(model.clone());
                    }
                    self.events += 1;
                }
                StreamEvent::Stop { .. } => {
                    self.ending.finished = true;
                    self.events += 1;
                }
                _ => self.events += 1,
            }
        }
    }

    fn check_throughput(&mut self) -> Result<(), String> {
        let events = self.events;
        let Some(g) = self.stall.as_mut() else {
            return Ok(());
        };
        let Some(min) = g.min_rate else {
            return Ok(());
        };
        let elapsed = g.window_start.elapsed();
        if elapsed < g.window {
            return Ok(());
        }
        let rate = (events - g.window_events) as f64 / elapsed.as_secs_f64();
        if rate < min {
            return Err(format!(
                "stream too slow: {rate:.1} events/s over {:.1}s (minimum {min})",
                elapsed.as_secs_f64()
            ));
        }
        g.window_start = Instant::now();
        g.window_events = events;
        Ok(())
    }

    /// The usage to report at the end: an Anthropic stream's start-of-answer
    /// output count (a placeholder, usually 1) is raised to the events
    /// forwarded when its final usage never came.
    fn spent(&self) -> Option<Usage> {
        let mut usage = self.usage?;
        if !self.usage_final {
            usage.completion_tokens = usage.completion_tokens.max(self.events);
        }
        Some(usage)
    }

    /// Notes the model the first event passed on as written names (once
    /// per stream, at the commit point).
    pub(crate) fn note_model(&mut self, ev: &signalbox_providers::SseEvent) {
        self.model = signalbox_providers::model_named(&ev.data).map(str::to_owned);
    }

    /// Notes the usage an event passed on as written reports.
    pub(crate) fn note_usage(&mut self, ev: &signalbox_providers::SseEvent) {
        if let Some((u, whole)) = wire::usage_of(self.ending.format, ev, self.usage) {
            self.usage = Some(u);
            self.usage_final |= whole;
        }
    }

    /// The next piece once the framer is empty: polls the upstream.
    /// `Ready(None)` means "look again": bytes went into the framer, or
    /// the stream has ended.
    fn poll_upstream(&mut self, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll_next(cx) {
            Poll::Pending => {
                let stalled = self
                    .stall
                    .as_mut()
                    .filter(|_| !self.ending.done)
                    .is_some_and(|g| g.poll_stalled(cx));
                if !stalled {
                    return Poll::Pending;
                }
                let idle = self.stall.as_ref().map(|g| g.idle).unwrap_or_default();
                let detail = format!("stream stalled: no data for {:.1}s", idle.as_secs_f64());
                Poll::Ready(Some(self.cut(detail)))
            }
            Poll::Ready(Some(Ok(Chunk::Data(chunk)))) => {
                self.heard();
                self.framer.push(&chunk);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(Chunk::Events(events)))) => {
                self.heard();
                self.note_events(&events);
                Poll::Ready(Some(match self.check_throughput() {
                    Ok(()) => Piece::Events(events),
                    Err(detail) => self.cut(detail),
                }))
            }
            Poll::Ready(Some(Err(_))) if self.ending.done => Poll::Ready(Some(self.complete())),
            Poll::Ready(Some(Err(e))) => {
                let detail = format!("upstream stream failed: {}", e.detail);
                Poll::Ready(Some(self.cut(detail)))
            }
            // Complete without the marker: the edge writes the client's.
            Poll::Ready(None) if self.ending.done || self.ending.finished => {
                Poll::Ready(Some(self.complete()))
            }
            Poll::Ready(None) => {
                let detail = "upstream closed the stream before its end marker".to_string();
                Poll::Ready(Some(self.cut(detail)))
            }
        }
    }

    /// Something arrived: the stall deadline moves on.
    fn heard(&mut self) {
        if let Some(g) = self.stall.as_mut() {
            g.deadline = Instant::now() + g.idle;
        }
    }
}

impl StallGuard {
    /// Whether the idle deadline has passed; registers the wake-up otherwise.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

impl Stream for CommittedStream {
    type Item = Piece;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(first));
        }
        loop {
            if this.inner.is_none() {
                // Ended (completed or cut): nothing more is forwarded, and
                // a failed framer is not asked again.
                return Poll::Ready(None);
            }
            if this.ended_at_commit {
                // The first events carried the end marker.
                this.ended_at_commit = false;
                return Poll::Ready(Some(this.complete()));
            }
            match this.drain() {
                Err(detail) => return Poll::Ready(Some(this.cut(detail))),
                Ok(Some(bytes)) => return Poll::Ready(Some(Piece::Wire(bytes))),
                Ok(None) => {}
            }
            match this.poll_upstream(cx) {
                Poll::Ready(None) => {} // bytes for the framer
                other => return other,
            }
        }
    }
}

impl Drop for CommittedStream {
    fn drop(&mut self) {
        if self.on_end.is_some() {
            self.finish(StreamOutcome::Cancelled);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
