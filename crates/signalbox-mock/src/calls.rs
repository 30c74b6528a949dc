//! Owns the mock's call log: one entry per chat request (the caller's
//! `x-request-id`, when it arrived, what the mock did with it), kept only
//! while switched on, so the usual hot path pays one relaxed load.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::Mutex;
use tokio::time::Instant;

/// One chat request as the mock saw and answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The request's 1-based sequence number since start (or the last reset).
    pub seq: u64,
    /// When the request's body had been read.
    pub at: Instant,
    /// The `x-request-id` it carried (the gateway sends the caller's on).
    pub request_id: Option<String>,
    /// What the mock did with it.
    pub outcome: CallOutcome,
}

/// What the mock did with one chat request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// Not decided yet (the body is still being read or the answer rendered).
    Pending,
    /// Left hanging (`hang`).
    Hung,
    /// Connection dropped before the head (`reset_before_headers`).
    Reset,
    /// 429 with this `retry-after`.
    RateLimited {
        /// The `retry-after` sent, in seconds.
        retry_after_secs: u64,
    },
    /// 429 without `retry-after`, with `x-ratelimit-reset-requests`.
    RateLimitedUntilReset {
        /// The reset sent, in seconds.
        reset_secs: u64,
    },
    /// An injected error with this status (`error_rate`, `fail_first`; a
    /// 429 here carries no `retry-after`).
    Error {
        /// The status sent.
        status: u16,
    },
    /// The body could not be parsed or the answer rendered (4xx/5xx).
    Invalid,
    /// A 200 JSON answer (malformed when `malformed_json` was set).
    Json,
    /// A 200 stream, and how it has ended so far.
    Stream(StreamEnd),
}

/// How a streamed answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// Still sending.
    Running,
    /// Sent to its end marker.
    Completed,
    /// Aborted by `cut_stream_after`.
    Cut,
    /// Ended cleanly short of its end (`end_stream_after`).
    EndedShort,
    /// Went silent by `stall_stream_after` (until the client left).
    Stalled,
    /// Dropped by the client before its end.
    Cancelled,
}

impl CallOutcome {
    /// Whether the mock did the work a real provider would bill for: a 200
    /// answer sent in full (a JSON body, or a stream to its end marker).
    pub fn executed(self) -> bool {
        matches!(self, Self::Json | Self::Stream(StreamEnd::Completed))
    }
}

/// The log, off by default.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    on: AtomicBool,
    calls: Mutex<Vec<Call>>,
}

/// A logged call's position, to fill in its outcome later.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallSlot {
    index: usize,
    /// Guards against a slot outliving a clear: the entry must still be its call.
    seq: u64,
}

impl CallLog {
    pub(crate) fn enable(&self, on: bool) {
        self.on.store(on, Relaxed);
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Logs a new call when the log is on.
    pub(crate) fn push(&self, seq: u64, request_id: Option<String>) -> Option<CallSlot> {
        if !self.is_on() {
            return None;
        }
        let call = Call {
            seq,
            at: Instant::now(),
            request_id,
            outcome: CallOutcome::Pending,
        };
        let mut calls = self.calls.lock();
        calls.push(call);
        Some(CallSlot {
            index: calls.len() - 1,
            seq,
        })
    }

    /// Sets the outcome of a logged call (nothing when it was not logged, or
    /// the log was cleared since).
    pub(crate) fn set(&self, slot: Option<CallSlot>, outcome: CallOutcome) {
        if let Some(CallSlot { index, seq }) = slot
            && let Some(call) = self.calls.lock().get_mut(index)
            && call.seq == seq
        {
            call.outcome = outcome;
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    pub(crate) fn clear(&self) {
        let old = std::mem::take(&mut *self.calls.lock());
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn logs_only_while_on_and_fills_outcomes_in() {
        let log = CallLog::default();
        assert!(log.push(1, None).is_none());
        log.enable(true);
        let slot = log.push(2, Some("r-2".to_owned()));
        log.set(slot, CallOutcome::Stream(StreamEnd::Running));
        log.set(slot, CallOutcome::Stream(StreamEnd::Completed));
        let calls = log.snapshot();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].request_id.as_deref(), Some("r-2"));
        assert!(calls[0].outcome.executed());
        log.clear();
        // A slot from before the clear never touches a later call.
        let later = log.push(1, None);
        log.set(slot, CallOutcome::Hung);
        assert_eq!(log.snapshot()[0].outcome, CallOutcome::Pending);
        log.set(later, CallOutcome::Json);
        assert_eq!(log.snapshot()[0].outcome, CallOutcome::Json);
    }

    #[test]
    fn only_whole_answers_count_as_executed() {
        for outcome in [
            CallOutcome::Hung,
            CallOutcome::Error { status: 500 },
            CallOutcome::Stream(StreamEnd::Cut),
            CallOutcome::Stream(StreamEnd::Cancelled),
        ] {
            assert!(!outcome.executed(), "{outcome:?}");
        }
        assert!(CallOutcome::Json.executed());
    }
}
