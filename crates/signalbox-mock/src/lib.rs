//! Owns the fault-injecting, OpenAI-compatible mock provider used by tests, `signalbox demo`
//! and the load benchmark.
//!
//! Answers are deterministic (echo of the last user message, or a canned tool call), counters
//! are atomics, and faults (errors, rate limits, latency, hangs, cut or malformed streams) are
//! switched at runtime through [`MockHandle`] or `POST /_mock/faults`.

mod answer;
mod control;
mod faults;
mod handle;
mod openai;
mod server;
mod stats;
mod stream;
mod wire;

pub use control::MockControl;
pub use faults::Faults;
pub use handle::{MockHandle, MockOptions, MockProvider, serve};
pub use server::router;
pub use stats::Stats;
