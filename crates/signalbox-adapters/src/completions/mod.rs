//! Owns OpenAI's legacy completions (`POST /v1/completions`) as an ingress
//! format: a prompt becomes one user message of a chat request (no route
//! serves raw completions; a chat model answers the prompt rather than
//! continuing it), and the canonical answer is written back as a
//! `text_completion` object or its SSE chunks, ended by `data: [DONE]`.

mod ingress;
mod render;

pub use ingress::parse_request;
pub use render::{SseEncoder, render_response};

#[cfg(test)]
mod tests;
