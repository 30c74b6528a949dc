//! Owns the fault-injecting mock provider used by tests, `signalbox demo` and the load
//! benchmark. It speaks OpenAI by default, or Anthropic or Gemini ([`MockFormat`], chosen per
//! mock with [`MockProvider::start_as`]).
//!
//! Answers are deterministic (echo of the last user message, or a canned tool call), counters
//! are atomics, and faults (errors, rate limits, latency, hangs, cut or malformed streams,
//! streams without `[DONE]`, `\uXXXX`-escaped JSON) are switched at runtime through
//! [`MockHandle`] or `POST /_mock/faults`.

mod answer;
mod anthropic;
mod control;
mod faults;
mod format;
mod gemini;
mod handle;
mod openai;
mod reshape;
mod server;
mod stats;
mod stream;
mod wire;

pub use control::MockControl;
pub use faults::Faults;
pub use format::MockFormat;
pub use handle::{MockHandle, MockOptions, MockProvider, serve, serve_as};
pub use server::{router, router_as};
pub use stats::Stats;
