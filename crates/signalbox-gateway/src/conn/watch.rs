//! Owns the client-side deadlines of one connection, kept by its IO: the
//! first request head must arrive within `header-read-timeout` of the
//! accept, and once a request has finished, the next head must arrive
//! within `keep-alive-timeout` (a connection with no request is closed). While a request
//! is in flight (from its parsed head to the end of its response body)
//! there is no deadline here: the body's is the handler's, and a response
//! may stream for minutes.
//!
//! Why in the IO and not hyper's `header_read_timeout`: hyper's timer does
//! not run while `auto` reads the first bytes to tell HTTP/1 from HTTP/2
//! (a silent connection waits there forever), it counts a keep-alive
//! connection's idle time as header time, and it boxes and arms a new timer
//! for every request. Here one timer per connection is moved only when it
//! fires early (about once per `keep-alive-timeout` on a busy connection),
//! and the per-request cost is a few relaxed atomic operations and a clock
//! read.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::future::BoxFuture;
use hyper::body::{Frame, Incoming, SizeHint};
use metrics::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::entry::Entry;

/// What one connection is doing, shared by its IO, its service and the
/// bodies of its responses.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Requests whose head was read and whose response body is not done.
    in_flight: AtomicU32,
    /// Requests done so far: a change tells the IO an idle period began.
    finished: AtomicU64,
}

/// Marks one request in flight until dropped (with its response body).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl InFlight {
    pub(crate) fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's deadlines and the counters of their expiries.
#[derive(Debug, Clone)]
pub(crate) struct Deadlines {
    pub(crate) header: Duration,
    pub(crate) keep_alive: Duration,
    pub(crate) header_expired: Counter,
    pub(crate) idle_expired: Counter,
}

/// Which deadline the connection is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head: the connection's first, due `header` after
    /// the accept, or a later one whose first byte has arrived, due with
    /// the idle deadline it arrived under.
    Head,
    /// No request in flight and no byte of the next: due `keep_alive`
    /// after the last one finished.
    Idle,
    /// A request in flight: no deadline.
    Busy,
}

/// A connection's IO with its client-side deadlines (module docs).
pub(crate) struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
    deadlines: Deadlines,
    phase: Phase,
    /// When the current phase's time is up (not while `Busy`).
    deadline: Instant,
    /// `activity.finished` when the phase was last set.
    finished_seen: u64,
    /// Fires at or before `deadline`. Moved later only when it fires early,
    /// so a connection busy with many short requests re-arms it about once
    /// per `keep_alive`, not once per request.
    timer: Pin<Box<Sleep>>,
}

impl<T> Watched<T> {
    /// Watches `inner` from now: its first request head is due within
    /// `deadlines.header`.
    #[cfg(test)]
    pub(crate) fn new(inner: T, activity: Arc<Activity>, deadlines: Deadlines) -> Self {
        Self::since(Instant::now(), inner, activity, deadlines)
    }

    /// Watches `inner`, accepted at `accepted`: its first request head is
    /// due within `deadlines.header` of then.
    pub(crate) fn since(
        accepted: Instant,
        inner: T,
        activity: Arc<Activity>,
        deadlines: Deadlines,
    ) -> Self {
        let deadline = accepted + deadlines.header;
        Self {
            inner,
            activity,
            deadlines,
            phase: Phase::Head,
            deadline,
            finished_seen: 0,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    /// Follows the connection's requests: busy while one is in flight, idle
    /// once one has finished and none is in flight.
    fn observe(&mut self) -> Phase {
        if self.activity.in_flight.load(Ordering::Relaxed) > 0 {
            self.phase = Phase::Busy;
        } else {
            let finished = self.activity.finished.load(Ordering::Relaxed);
            if finished != self.finished_seen {
                self.finished_seen = finished;
                self.phase = Phase::Idle;
                self.deadline = Instant::now() + self.deadlines.keep_alive;
                // Only an earlier deadline needs the timer now; a later one
                // waits until the timer fires (`poll_timer`).
                if self.deadline < self.timer.deadline() {
                    self.timer.as_mut().reset(self.deadline);
                }
            }
        }
        self.phase
    }

    /// Polls the timer (registering this task's waker) and moves it to
    /// `deadline` when it fired early; `true` once `deadline` has passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        if Instant::now() >= self.deadline {
            return true;
        }
        self.timer.as_mut().reset(self.deadline);
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// `Err(TimedOut)` when the current deadline has passed; otherwise the
    /// timer will wake this connection's task when it does.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.phase == Phase::Busy || !self.poll_timer(cx) {
            return Ok(());
        }
        let (counter, what) = match self.phase {
            Phase::Idle => (&self.deadlines.idle_expired, "idle keep-alive"),
            Phase::Head | Phase::Busy => (&self.deadlines.header_expired, "request head"),
        };
        counter.increment(1);
        tracing::debug!(
            deadline = what,
            "Closing a client connection: deadline passed."
        );
        Err(io::Error::new(io::ErrorKind::TimedOut, what))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        match this.observe() {
            Phase::Busy => return read,
            // The first byte of the next request (for the metric's label).
            Phase::Idle if buf.filled().len() > before => this.phase = Phase::Head,
            Phase::Idle | Phase::Head => {}
        }
        if read.is_pending() {
            this.poll_deadline(cx)?;
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.after_response(cx);
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.after_response(cx);
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.after_response(cx);
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> Watched<T> {
    /// A response's last bytes are written after its body (and so its
    /// [`InFlight`]) is dropped: hyper may then not read again until the
    /// client sends something, so the idle deadline is armed here, and its
    /// timer registered with this task.
    fn after_response(&mut self, cx: &mut Context<'_>) {
        let was = self.phase;
        if self.observe() == Phase::Idle && was != Phase::Idle {
            // Just armed, so not yet passed; a read reports it when it is.
            let _ = self.poll_timer(cx);
        }
    }
}

/// The service each connection runs: [`Entry`], with each request marked
/// in flight until its response body is done.
#[derive(Clone)]
pub(crate) struct Tracked {
    entry: Entry,
    activity: Arc<Activity>,
}

impl Tracked {
    pub(crate) fn new(entry: Entry, activity: Arc<Activity>) -> Self {
        Self { entry, activity }
    }
}

impl hyper::service::Service<http::Request<Incoming>> for Tracked {
    type Response = http::Response<TrackedBody>;
    type Error = std::convert::Infallible;
    type Future = TrackedFuture;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let guard = InFlight::start(&self.activity);
        // `Entry` is always ready; cloning it is two reference counts.
        let future = self.entry.clone().call(req.map(Body::new));
        TrackedFuture {
            future,
            guard: Some(guard),
        }
    }
}

/// [`Tracked`]'s response future: moves the in-flight mark into the body.
pub(crate) struct TrackedFuture {
    future: BoxFuture<'static, Result<axum::response::Response, std::convert::Infallible>>,
    guard: Option<InFlight>,
}

impl std::future::Future for TrackedFuture {
    type Output = Result<http::Response<TrackedBody>, std::convert::Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(response) = ready!(self.future.as_mut().poll(cx));
        let guard = self.guard.take();
        Poll::Ready(Ok(response.map(|inner| TrackedBody {
            inner,
            _guard: guard,
        })))
    }
}

/// A response body that keeps its request marked in flight until dropped.
pub(crate) struct TrackedBody {
    inner: Body,
    _guard: Option<InFlight>,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
