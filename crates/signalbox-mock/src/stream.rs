//! Owns the SSE response body: pacing, the stream faults that act over time (cut, clean end
//! short of the answer, stall, slow first event), cancellation counting and the call log's end.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;

use crate::calls::{CallOutcome, CallSlot, StreamEnd};
use crate::stats::InFlight;

/// How to send a prepared list of SSE events.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The events, `[DONE]` last.
    pub(crate) events: Vec<Bytes>,
    /// Pause between consecutive events.
    pub(crate) delay: Duration,
    /// Abort the connection after this many events (the `cut_stream_after` fault).
    pub(crate) cut_after: Option<u32>,
    /// End the body cleanly after this many events (the `end_stream_after` fault).
    pub(crate) end_after: Option<u32>,
    /// Go silent after this many events (the `stall_stream_after` fault).
    pub(crate) stall_after: Option<u32>,
    /// Wait this long before the first event (the `first_event_delay_ms` fault).
    pub(crate) first_delay: Option<Duration>,
    /// The call log's entry, to record how the stream ended.
    pub(crate) call: Option<CallSlot>,
}

/// How a stream ended, decided before its guard drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Running,
    Completed,
    Cut,
    EndedShort,
    Stalled,
}

/// Counts the stream's end; a stream dropped while still running was cancelled by the client.
#[derive(Debug)]
struct Guard {
    in_flight: InFlight,
    outcome: Outcome,
    call: Option<CallSlot>,
}

impl Guard {
    fn finish(&mut self, outcome: Outcome) {
        self.outcome = outcome;
        let counters = self.in_flight.counters();
        let end = match outcome {
            Outcome::Completed => {
                counters.streams_completed.fetch_add(1, Relaxed);
                StreamEnd::Completed
            }
            // A clean end short of the answer is counted as a cut too.
            Outcome::Cut | Outcome::EndedShort => {
                counters.streams_cut.fetch_add(1, Relaxed);
                if outcome == Outcome::Cut {
                    StreamEnd::Cut
                } else {
                    StreamEnd::EndedShort
                }
            }
            Outcome::Stalled => StreamEnd::Stalled,
            Outcome::Running => StreamEnd::Running,
        };
        counters.calls.set(self.call, CallOutcome::Stream(end));
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.outcome == Outcome::Running {
            let counters = self.in_flight.counters();
            counters.streams_cancelled.fetch_add(1, Relaxed);
            counters
                .calls
                .set(self.call, CallOutcome::Stream(StreamEnd::Cancelled));
        }
    }
}

struct State {
    events: std::vec::IntoIter<Bytes>,
    sent: u32,
    delay: Duration,
    cut_after: Option<u32>,
    end_after: Option<u32>,
    stall_after: Option<u32>,
    first_delay: Option<Duration>,
    guard: Guard,
}

/// Builds a body that sends each event as its own frame, as soon as it is due.
///
/// A cut stream sends `min(cut_after, events before [DONE])` events and then yields an error,
/// which makes hyper drop the connection without terminating the body, as a crashing upstream would.
pub(crate) fn body(plan: Plan, in_flight: InFlight) -> Body {
    let Plan {
        events,
        delay,
        cut_after,
        end_after,
        stall_after,
        first_delay,
        call,
    } = plan;
    in_flight.counters().streams_started.fetch_add(1, Relaxed);
    let before_done = u32::try_from(events.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let state = State {
        events: events.into_iter(),
        sent: 0,
        delay,
        cut_after: cut_after.map(|n| n.min(before_done)),
        end_after,
        stall_after,
        first_delay,
        guard: Guard {
            in_flight,
            outcome: Outcome::Running,
            call,
        },
    };
    Body::from_stream(futures::stream::unfold(state, next_event))
}

async fn next_event(mut state: State) -> Option<(io::Result<Bytes>, State)> {
    if state.guard.outcome != Outcome::Running {
        return None;
    }
    if state.cut_after == Some(state.sent) {
        // hyper flushes its write buffer only when the body is pending; an error straight after
        // the last event would drop the buffered head and events with the connection.
        tokio::task::yield_now().await;
        state.guard.finish(Outcome::Cut);
        let cut = io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "mock: stream cut by fault",
        );
        return Some((Err(cut), state));
    }
    if state.end_after == Some(state.sent) {
        // A clean end of body short of the answer's end.
        state.guard.finish(Outcome::EndedShort);
        return None;
    }
    if state.stall_after == Some(state.sent) {
        // Silent, connection open, until the client drops the body.
        state.guard.finish(Outcome::Stalled);
        std::future::pending::<()>().await;
    }
    let event = state.events.next()?;
    if state.sent == 0
        && let Some(first) = state.first_delay
    {
        tokio::time::sleep(first).await;
    } else if state.sent > 0 && !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    state.sent = state.sent.saturating_add(1);
    if state.events.len() == 0 {
        state.guard.finish(Outcome::Completed);
    }
    Some((Ok(event), state))
}
