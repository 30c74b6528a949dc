//! Owns the SSE response body: pacing, the `cut_stream_after` fault and cancellation counting.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;

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
}

/// How a stream ended, decided before its guard drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Running,
    Completed,
    Cut,
}

/// Counts the stream's end; a stream dropped while still running was cancelled by the client.
#[derive(Debug)]
struct Guard {
    in_flight: InFlight,
    outcome: Outcome,
}

impl Guard {
    fn finish(&mut self, outcome: Outcome) {
        self.outcome = outcome;
        let counters = self.in_flight.counters();
        match outcome {
            Outcome::Completed => counters.streams_completed.fetch_add(1, Relaxed),
            Outcome::Cut => counters.streams_cut.fetch_add(1, Relaxed),
            Outcome::Running => 0,
        };
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.outcome == Outcome::Running {
            self.in_flight
                .counters()
                .streams_cancelled
                .fetch_add(1, Relaxed);
        }
    }
}

struct State {
    events: std::vec::IntoIter<Bytes>,
    sent: u32,
    delay: Duration,
    cut_after: Option<u32>,
    end_after: Option<u32>,
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
    } = plan;
    in_flight.counters().streams_started.fetch_add(1, Relaxed);
    let before_done = u32::try_from(events.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let state = State {
        events: events.into_iter(),
        sent: 0,
        delay,
        cut_after: cut_after.map(|n| n.min(before_done)),
        end_after,
        guard: Guard {
            in_flight,
            outcome: Outcome::Running,
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
        // A clean end of body short of the answer's end: counted as a cut.
        state.guard.finish(Outcome::Cut);
        return None;
    }
    let event = state.events.next()?;
    if state.sent > 0 && !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    state.sent = state.sent.saturating_add(1);
    if state.events.len() == 0 {
        state.guard.finish(Outcome::Completed);
    }
    Some((Ok(event), state))
}
