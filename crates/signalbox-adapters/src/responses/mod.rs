//! Owns the OpenAI Responses API (`POST /v1/responses`) as an ingress
//! format: reading its stateless subset (input items, instructions,
//! function tools and their outputs, structured output) into the canonical
//! request, and writing a canonical answer back as a Response object or as
//! the Responses event stream. Providers are reached through their chat
//! APIs; nothing is stored, so `previous_response_id` (and anything else
//! that needs stored state or a built-in tool) is refused naming the field.

mod ingress;
mod render;
mod stream;

pub use ingress::parse_request;
pub use render::render_response;
pub use stream::SseEncoder;

#[cfg(test)]
mod tests;
