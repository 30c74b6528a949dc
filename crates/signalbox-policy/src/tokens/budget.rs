//! Counting under a time budget, so that no request holds its serving
//! thread for long whatever its text.
//!
//! Why: segmenting ([`super::segment`]) keeps every pre-token short, which
//! makes runs of one character as cheap as prose. One kind of text stays
//! slow per byte even in short pieces: text drawing on thousands of
//! distinct rare characters (random Unicode), where the tokenizer's regex
//! engine keeps building new automaton states — 10–25 µs per byte. So
//! the estimator counts segment by segment while its budget lasts, then
//! extrapolates the rest at the tokens-per-byte rate of what it counted
//! (as [`CharApprox`] if it counted nothing), and the estimate records that
//! it did ([`METHOD_O200K_PAST_BUDGET`]).
//!
//! The budget is wall-clock time on purpose: it bounds how long the serving
//! thread is held, which is what other connections feel. Prose is counted
//! at 50–100 MiB/s, so the budget is reached only by such text or by a
//! prompt of several MiB on a loaded machine; in both cases the text
//! already counted is a fair sample of the rest.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::segment::{RUN_CAP, Segments};
use super::{CharApprox, METHOD_O200K, TokenCounter};

/// How long one estimate may run the tokenizer.
pub const TIME_BUDGET: Duration = Duration::from_millis(50);

/// [`super::TokenEstimate::method`] when the `o200k_base` count ran out of
/// its time budget and the rest was extrapolated from what it counted.
pub const METHOD_O200K_PAST_BUDGET: &str = "tiktoken o200k_base, extrapolated past the time budget";

/// A counter with a deadline, shared by every text of one estimate.
pub(super) struct Counting<'a> {
    counter: &'a dyn TokenCounter,
    // `std` time, not Tokio's: the budget is real CPU time on this thread,
    // which a paused test clock must not stop.
    deadline: Option<Instant>,
    spent: Cell<bool>,
    /// Bytes and tokens counted by `counter` so far: the rate at which the
    /// rest is extrapolated.
    counted: Cell<(u64, u64)>,
}

impl<'a> Counting<'a> {
    /// Counts with `counter` for at most `budget`.
    pub(super) fn new(counter: &'a dyn TokenCounter, budget: Duration) -> Self {
        Self {
            counter,
            deadline: cpu_now().checked_add(budget),
            spent: Cell::new(budget.is_zero()),
            counted: Cell::new((0, 0)),
        }
    }

    /// Whether the budget is spent (checked against the clock once per
    /// segment, a few tens of nanoseconds).
    fn spent(&self) -> bool {
        if !self.spent.get() && self.deadline.is_some_and(|d| cpu_now() >= d) {
            self.spent.set(true);
        }
        self.spent.get()
    }

    /// How the estimate was made: the counter's method, or
    /// [`METHOD_O200K_PAST_BUDGET`] when the budget ran out.
    pub(super) fn method(&self) -> &'static str {
        let method = self.counter.method();
        if self.spent.get() && method == METHOD_O200K {
            METHOD_O200K_PAST_BUDGET
        } else {
            method
        }
    }

    /// Tokens of `text`, as `u64`: segment by segment ([`Segments`]) with
    /// the counter while the budget lasts, then extrapolated.
    pub(super) fn text(&self, text: &str) -> u64 {
        if text.len() <= RUN_CAP {
            return self.segment(text);
        }
        Segments::new(text).fold(0u64, |total, (segment, _)| {
            total.saturating_add(self.segment(segment))
        })
    }

    /// Tokens of one segment: counted, or extrapolated once the budget is
    /// spent.
    fn segment(&self, segment: &str) -> u64 {
        let (bytes, tokens) = self.counted.get();
        if self.spent() {
            if bytes == 0 {
                return to_u64(CharApprox.count(segment));
            }
            let len = u128::from(to_u64(segment.len()));
            let rest = (len * u128::from(tokens)).div_ceil(u128::from(bytes));
            return u64::try_from(rest).unwrap_or(u64::MAX);
        }
        let counted = to_u64(self.counter.count(segment));
        self.counted.set((
            bytes.saturating_add(to_u64(segment.len())),
            tokens.saturating_add(counted),
        ));
        counted
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Real time, even under a paused test clock: the budget bounds the CPU a
/// tokeniser spends, which a paused clock does not stop.
#[expect(
    clippy::disallowed_methods,
    reason = "bounds CPU time actually spent, not simulated time"
)]
fn cpu_now() -> Instant {
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{O200k, warm};

    #[test]
    fn past_the_budget_the_rest_is_extrapolated_at_the_counted_rate() {
        assert!(warm());
        let counting = Counting::new(&O200k, Duration::MAX);
        let sample = "All work and no play makes Jack a dull boy. ".repeat(100);
        let counted = counting.text(&sample);
        assert_eq!(counted, O200k.count(&sample) as u64);
        assert_eq!(counting.method(), METHOD_O200K);
        // The budget runs out: the same text again is extrapolated at the
        // same rate, so it comes to the same count.
        counting.spent.set(true);
        assert_eq!(counting.text(&sample), counted);
        // Twice the text, twice the tokens (rounded up), without the tokenizer.
        assert_eq!(counting.text(&sample.repeat(2)), 2 * counted);
        assert_eq!(counting.method(), METHOD_O200K_PAST_BUDGET);
    }

    #[test]
    fn a_budget_spent_before_counting_falls_back_to_characters() {
        let counting = Counting::new(&O200k, Duration::ZERO);
        assert_eq!(counting.text("hello world"), 3); // ceil(11 / 4)
        assert_eq!(counting.method(), METHOD_O200K_PAST_BUDGET);
    }
}
