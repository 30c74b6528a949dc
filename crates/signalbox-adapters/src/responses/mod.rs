//! Owns the OpenAI Responses API (`POST /v1/responses`) as an ingress
//! format: reading its stateless subset (input items, instructions,
//! function tools and their outputs, structured output) into the canonical
//! request, and writing a canonical answer back as a Response object or as
//! the Responses event stream. Providers are reached through their chat
//! APIs, or sent the client's own body where they serve the Responses API
//! (the gateway's passthrough: what only it carries, built-in tools and
//! files, is named in `untranslatable.rs`; its answers are read for usage,
//! end and failures in `usage.rs`; for the answer's text, checked against
//! a requested schema, in `crate::structured::text`). Nothing is stored, so
//! `previous_response_id` and `item_reference` are refused naming the field.

mod ingress;
mod render;
mod stream;
mod untranslatable;
mod usage;

pub use ingress::{Ingress, parse_ingress, parse_request};
pub use render::render_response;
pub use stream::SseEncoder;
pub use usage::{
    EventKind, ResponseSummary, event_kind, failure_of, read_response, usage_of_event,
};

#[cfg(test)]
mod tests;
