//! Owns how a streamed answer's bytes meet the socket: pieces that arrive
//! together leave in one write.
//!
//! Why: hyper's client hands a response body over one HTTP chunk at a
//! time, through a channel the connection task refills only after the
//! body was polled, so a provider's burst of events (one chunk each,
//! though read from the socket in one go) reached the client as one
//! `writev` per event: 1,000 syscalls for a 1,000-event answer, two
//! thirds of the gateway's CPU per streamed chunk. Here, a piece that
//! arrives is held while the upstream gets one more scheduler round; what
//! comes in that round joins it, and the whole leaves once a round brings
//! nothing (or [`MAX_HELD`] bytes are waiting). The first piece of a
//! stream is never held (time to first token), and a stream whose events
//! come apart in time pays one scheduler round per event, no wait.

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::task::{Wake, Waker};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

/// Bytes held at most before they are written whatever comes next.
const MAX_HELD: usize = 16 * 1024;

/// A stream of byte pieces whose pieces arriving together are joined.
pub(crate) struct Coalesce<S> {
    inner: S,
    held: BytesMut,
    /// A first piece, held apart so a lone piece is passed on uncopied.
    first: Option<Bytes>,
    /// Whether a piece came since the upstream was last given a round.
    fresh: bool,
    /// Whether anything was passed on yet.
    started: bool,
    /// The inner stream ended while bytes were held.
    ended: bool,
    /// The scheduler round the upstream was last given.
    round: Option<Arc<Round>>,
}

impl<S> Coalesce<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            held: BytesMut::new(),
            first: None,
            fresh: false,
            started: false,
            ended: false,
            round: None,
        }
    }

    fn hold(&mut self, bytes: Bytes) {
        self.fresh = true;
        match self.first.take() {
            None if self.held.is_empty() => self.first = Some(bytes),
            first => {
                if let Some(first) = first {
                    self.held.extend_from_slice(&first);
                }
                self.held.extend_from_slice(&bytes);
            }
        }
    }

    fn holding(&self) -> usize {
        self.first.as_ref().map_or(self.held.len(), Bytes::len)
    }

    fn release(&mut self) -> Option<Bytes> {
        self.fresh = false;
        self.round = None;
        self.started = true;
        self.first
            .take()
            .or_else(|| (!self.held.is_empty()).then(|| self.held.split().freeze()))
    }
}

impl<S: Stream<Item = Result<Bytes, Infallible>> + Unpin> Stream for Coalesce<S> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while !this.ended {
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    if !this.started {
                        this.started = true;
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                    this.hold(bytes);
                    if this.holding() >= MAX_HELD {
                        return Poll::Ready(this.release().map(Ok));
                    }
                }
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => this.ended = true,
                Poll::Pending if this.holding() == 0 => return Poll::Pending,
                Poll::Pending if this.fresh => {
                    // Give the upstream one round to add what it has read.
                    this.fresh = false;
                    this.round = Some(Round::start(cx));
                    return Poll::Pending;
                }
                Poll::Pending if this.round.as_ref().is_some_and(|r| !r.passed()) => {
                    // Polled again within the same task poll (hyper's write
                    // loop does that after a flush): the round has not run.
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Ready(this.release().map(Ok)),
            }
        }
        Poll::Ready(this.release().map(Ok))
    }
}

/// One scheduler round given to the upstream: it has passed once the
/// runtime wakes the deferred waker (tokio wakes deferred tasks after the
/// tasks already queued, the upstream's connection among them, have run).
/// Outside a runtime the wake comes at once: no round is waited for.
struct Round {
    passed: AtomicBool,
    task: futures::task::AtomicWaker,
}

impl Round {
    /// Registers `cx`'s task to be woken once the round has passed.
    fn start(cx: &Context<'_>) -> Arc<Self> {
        let round = Arc::new(Self {
            passed: AtomicBool::new(false),
            task: futures::task::AtomicWaker::new(),
        });
        round.task.register(cx.waker());
        let waker = Waker::from(Arc::clone(&round));
        // `yield_now` defers its waker to the end of the scheduler's tick;
        // the future itself is not needed after that first poll.
        let _ = std::pin::pin!(tokio::task::yield_now()).poll(&mut Context::from_waker(&waker));
        round
    }

    fn passed(&self) -> bool {
        self.passed.load(Ordering::Acquire)
    }
}

impl Wake for Round {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.passed.store(true, Ordering::Release);
        self.task.wake();
    }
}

#[cfg(test)]
mod tests;
