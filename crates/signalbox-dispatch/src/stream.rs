//! A committed stream: the caller has (or is about to have) the first event,
//! so failover is over. Events are forwarded whole, as they complete; an
//! upstream failure after this point ends the stream with an explicit SSE
//! error event, never a silent splice of another model's output.
//!
//! A stream is complete when it reaches `data: [DONE]`, or when a choice's
//! `finish_reason` arrived and the upstream then ended its body cleanly:
//! several self-hosted servers never send `[DONE]`. The caller still gets
//! `[DONE]` (the gateway's OpenAI edge always ends with it). A body that
//! ends before any finish reason is a cut, as is an event longer than the
//! provider's `max-stream-event-bytes`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use serde::de::IgnoredAny;
use signalbox_config::Timeouts;
use signalbox_core::{OutcomeClass, Usage, WireFormat};
use signalbox_providers::{ByteStream, Chunk, SseEvent, SseFramer, UpstreamError};
use tokio::time::{Duration, Instant};

use crate::RouteHealth;

/// The upstream body: SSE bytes for the caller, and typed values (usage)
/// for the record.
pub(crate) type UpstreamBytes = ByteStream;

/// How a committed stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// The upstream finished with its end marker.
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
}

type OnEnd = Box<dyn FnOnce(StreamEnd) + Send>;

/// The rest of an upstream SSE stream after the commit point.
pub struct CommittedStream {
    first: Option<Bytes>,
    inner: Option<UpstreamBytes>,
    framer: SseFramer,
    ending: Ending,
    usage: Option<Usage>,
    /// The usage seen is the answer's whole usage (an OpenAI usage chunk,
    /// a translated stream's, or Anthropic's `message_delta`).
    usage_final: bool,
    events: u64,
    started: Instant,
    error_event: Option<ErrorContext>,
    on_end: Option<OnEnd>,
    /// Held until the stream ends (e.g. the route's capacity slot).
    held: Option<Box<dyn std::any::Any + Send>>,
    stall: Option<StallGuard>,
}

/// What the events so far say about the end of the answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ending {
    /// The stream's wire format: OpenAI chunks, or Anthropic events passed
    /// on in the client's own format (which end with `message_stop`).
    pub(crate) format: WireFormat,
    /// The end marker `data: [DONE]` arrived: nothing after it is forwarded.
    pub(crate) done: bool,
    /// A choice's `finish_reason` arrived: a clean end of body from here on
    /// completes the stream, `[DONE]` or not.
    pub(crate) finished: bool,
}

impl Ending {
    /// Notes one event.
    pub(crate) fn note(&mut self, ev: &SseEvent) {
        match self.format {
            WireFormat::OpenAi => {
                self.done |= ev.is_done();
                self.finished = self.finished || finishes_answer(&ev.data);
            }
            WireFormat::Anthropic => {
                let stop = ev.event.as_deref() == Some("message_stop");
                self.done |= stop;
                self.finished |= stop;
            }
        }
    }
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

/// What the explicit error event names.
#[derive(Debug, Clone)]
struct ErrorContext {
    request_id: String,
    route: String,
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
    pub(crate) fn new(
        first: Bytes,
        inner: UpstreamBytes,
        framer: SseFramer,
        ending: Ending,
    ) -> Self {
        Self {
            first: Some(first),
            inner: Some(inner),
            framer,
            ending,
            usage: None,
            usage_final: false,
            events: 1,
            started: Instant::now(),
            error_event: None,
            on_end: None,
            held: None,
            stall: None,
        }
    }

    /// Ends the stream with an error event when no chunk arrives for
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

    /// The stream's wire format.
    pub fn format(&self) -> WireFormat {
        self.ending.format
    }

    /// Rewrites the first event (already received, not yet forwarded).
    pub fn map_first(&mut self, f: impl FnOnce(Bytes) -> Bytes) {
        if let Some(first) = self.first.take() {
            self.first = Some(f(first));
        }
    }

    /// Keeps `guard` alive until the stream ends.
    pub fn hold(&mut self, guard: Box<dyn std::any::Any + Send>) {
        self.held = Some(guard);
    }

    /// Names the request and route in the error event sent on a failure.
    pub fn with_error_context(mut self, request_id: &str, route: &str) -> Self {
        self.error_event = Some(ErrorContext {
            request_id: request_id.to_string(),
            route: route.to_string(),
        });
        self
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
            });
        }
    }

    fn cut(&mut self, detail: String) -> Bytes {
        if let Some(g) = &self.stall {
            g.health.record_failure("stream_cut");
        }
        let event = error_event(&detail, self.error_event.as_ref(), self.ending.format);
        self.finish(StreamOutcome::Cut { detail });
        event
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

    /// Keeps usage a translated stream handed over as a value.
    pub(crate) fn set_usage(&mut self, usage: Option<Usage>) {
        if usage.is_some() {
            self.usage = usage;
            self.usage_final = true;
        }
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

    pub(crate) fn note_usage(&mut self, ev: &SseEvent) {
        if self.ending.format == WireFormat::Anthropic {
            let mut u = self.usage.unwrap_or_default();
            if signalbox_providers::anthropic_usage_of_event(&ev.data, &mut u) {
                self.usage = Some(u);
                // `message_start` carries the input and a placeholder
                // output count; `message_delta` the output so far.
                self.usage_final |= ev.event.as_deref() != Some("message_start");
            }
            return;
        }
        #[derive(serde::Deserialize)]
        struct WithUsage {
            usage: Option<Usage>,
        }
        if ev.data.contains("\"usage\"")
            && let Ok(WithUsage { usage: Some(u) }) = serde_json::from_str::<WithUsage>(&ev.data)
        {
            self.usage = Some(u);
            self.usage_final = true;
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
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            if this.ending.done {
                this.finish(StreamOutcome::Completed);
            }
            return Poll::Ready(Some(Ok(first)));
        }
        loop {
            if this.inner.is_none() {
                // Ended (completed, cut or marker seen at commit): nothing
                // more is forwarded, and a failed framer is not asked again.
                return Poll::Ready(None);
            }
            match this.drain() {
                Err(detail) => return Poll::Ready(Some(Ok(this.cut(detail)))),
                Ok(Some(bytes)) => return Poll::Ready(Some(Ok(bytes))),
                Ok(None) => {}
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match inner.as_mut().poll_next(cx) {
                Poll::Pending => {
                    let stalled = this
                        .stall
                        .as_mut()
                        .filter(|_| !this.ending.done)
                        .is_some_and(|g| g.poll_stalled(cx));
                    if stalled {
                        let idle = this.stall.as_ref().map(|g| g.idle).unwrap_or_default();
                        let detail =
                            format!("stream stalled: no data for {:.1}s", idle.as_secs_f64());
                        return Poll::Ready(Some(Ok(this.cut(detail))));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(Chunk::Usage(u)))) => this.set_usage(Some(u)),
                Poll::Ready(Some(Ok(Chunk::Data(chunk)))) => {
                    if let Some(g) = this.stall.as_mut() {
                        g.deadline = Instant::now() + g.idle;
                    }
                    this.framer.push(&chunk);
                }
                Poll::Ready(Some(Err(e))) => {
                    if this.ending.done {
                        this.finish(StreamOutcome::Completed);
                        return Poll::Ready(None);
                    }
                    let detail = format!("upstream stream failed: {}", e.detail);
                    return Poll::Ready(Some(Ok(this.cut(detail))));
                }
                Poll::Ready(None) => {
                    if this.ending.done {
                        this.finish(StreamOutcome::Completed);
                        return Poll::Ready(None);
                    }
                    if this.ending.finished {
                        // Complete without the marker: the caller gets it.
                        this.ending.done = true;
                        this.finish(StreamOutcome::Completed);
                        return Poll::Ready(Some(Ok(Bytes::from_static(DONE_EVENT))));
                    }
                    let detail = "upstream closed the stream before its end marker".to_string();
                    return Poll::Ready(Some(Ok(this.cut(detail))));
                }
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

/// The end marker, sent when the upstream completed its answer without it.
const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// Whether a data event ends a choice (`"finish_reason"` not null).
///
/// Every OpenAI chunk names `finish_reason`, null until the last one, so
/// the text is scanned first and parsed only where the value is not
/// `null`: about once per stream.
fn finishes_answer(data: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Chunk {
        #[serde(default)]
        choices: Vec<Choice>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        #[serde(default)]
        finish_reason: Option<IgnoredAny>,
    }
    const KEY: &str = "\"finish_reason\"";
    let non_null = data.match_indices(KEY).any(|(at, _)| {
        let rest = data[at + KEY.len()..].trim_start();
        rest.strip_prefix(':')
            .is_some_and(|v| !v.trim_start().starts_with("null"))
    });
    non_null
        && serde_json::from_str::<Chunk>(data)
            .is_ok_and(|c| c.choices.iter().any(|c| c.finish_reason.is_some()))
}

/// Checks that a data event carries JSON (or the end marker).
pub(crate) fn validate_event(ev: &SseEvent) -> Result<(), UpstreamError> {
    if ev.data.is_empty() || ev.is_done() {
        return Ok(());
    }
    serde_json::from_str::<IgnoredAny>(&ev.data)
        .map(|_| ())
        .map_err(|e| {
            UpstreamError::new(
                OutcomeClass::BadResponse,
                format!("upstream sent an event that is not JSON: {e}"),
            )
        })
}

/// The explicit SSE error event that ends a broken stream. OpenAI SDKs raise
/// an API error when a data event carries an `error` object; Anthropic SDKs
/// when an `error` event arrives.
fn error_event(detail: &str, ctx: Option<&ErrorContext>, format: WireFormat) -> Bytes {
    if format == WireFormat::Anthropic {
        let message = match ctx {
            Some(c) => format!("stream interrupted: {detail} (request id {})", c.request_id),
            None => format!("stream interrupted: {detail}"),
        };
        let mut body = serde_json::json!({
            "type": "error",
            "error": { "type": "api_error", "message": message },
        });
        if let Some(ctx) = ctx {
            body["request_id"] = serde_json::Value::String(ctx.request_id.clone());
            body["signalbox"] =
                serde_json::json!({ "request_id": ctx.request_id, "route": ctx.route });
        }
        return Bytes::from(format!("event: error\ndata: {body}\n\n"));
    }
    let mut body = serde_json::json!({
        "error": {
            "message": format!("stream interrupted: {detail}"),
            "type": "upstream_error",
            "code": "stream_interrupted",
            "param": null,
        }
    });
    if let Some(ctx) = ctx {
        body["error"]["message"] = serde_json::Value::String(format!(
            "stream interrupted: {detail} (request id {})",
            ctx.request_id
        ));
        body["signalbox"] = serde_json::json!({ "request_id": ctx.request_id, "route": ctx.route });
    }
    Bytes::from(format!("data: {body}\n\n"))
}

#[cfg(test)]
mod tests;
