//! Owns the fault-injecting mock provider used by tests, `signalbox demo` and the load
//! benchmark. It speaks OpenAI by default, or any provider kind whose folder in
//! `signalbox-adapters` has a mock side ([`MockFormat`], chosen per mock with
//! [`MockProvider::start_as`]); this crate owns the faults, counters and HTTP plumbing.
//!
//! Answers are deterministic (echo of the last user message, or a canned tool call), counters
//! are atomics, and faults (errors, rate limits, latency, hangs, cut or malformed streams,
//! streams without `[DONE]`, `\uXXXX`-escaped JSON, resets before the head, slow first
//! events, stalls and a bad event mid-stream) are switched at runtime through
//! [`MockHandle`] or `POST /_mock/faults`. An optional call log ([`MockHandle::calls`]) keeps
//! every chat request's `x-request-id`, arrival time and fate, for `signalbox chaos`.

mod calls;
mod control;
mod faults;
mod format;
mod handle;
mod quality;
mod reshape;
mod server;
mod stats;
mod stream;

pub use calls::{Call, CallOutcome, StreamEnd};
pub use control::MockControl;
pub use faults::Faults;
pub use format::MockFormat;
pub use handle::{MockHandle, MockOptions, MockProvider, serve, serve_as};
pub use quality::{HARMFUL, QualityFault, REFUSAL, WRONG_TOOL};
pub use server::{router, router_as};
pub use stats::Stats;
