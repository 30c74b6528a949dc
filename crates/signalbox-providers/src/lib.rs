//! Owns everything provider-specific: building the HTTP client for a
//! provider, rendering and sending a chat request, classifying what came back
//! (so retry and failover decisions are right), and framing SSE streams.
//!
//! Only the OpenAI-compatible family exists today; native adapters (Azure,
//! Anthropic, Gemini, Bedrock) will sit beside `openai` with the same surface.

pub mod classify;
pub mod openai;
pub mod sse;

pub use classify::UpstreamError;
pub use openai::{Upstream, UpstreamBuildError};
pub use sse::{SseEvent, SseFramer};
