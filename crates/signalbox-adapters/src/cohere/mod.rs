//! Owns the Cohere v2 Chat adapter (`POST {base}/v2/chat`): the request
//! body (messages, tools, `tool_choice`, `p`/`k` sampling, `safety_mode`
//! from the route's content-filter level), answers (`message.content`
//! blocks, `tool_calls`, `finish_reason`, `usage.billed_units`), error
//! bodies, the SSE event stream (`message-start`, `content-delta`,
//! `tool-call-*`, `message-end`) and, with the `mock` feature, the mock
//! provider's side of the format. Field names follow Cohere's API reference
//! (docs/providers.md lists the pages).

mod format;
#[cfg(feature = "mock")]
pub mod mock;
mod render;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use format::{CohereFormat, FORMAT};
pub use response::{parse_error, parse_response};
pub use stream::EventDecoder;

use crate::canonical::ChatRequest;
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{Rendered, RouteSettings, Secret, UpstreamRequest, join_url, to_body};

/// The Cohere API (or a private Cohere deployment).
#[derive(Debug, Clone)]
pub struct CohereAdapter {
    /// Host root, e.g. `https://api.cohere.com`; the adapter appends `/v2/chat`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: Option<Secret>,
}

impl CohereAdapter {
    /// Renders `req`: `POST {base_url}/v2/chat`.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Rendered, TranslateError> {
        let mut notes = Notes::default();
        let body = render::body(req, route, &mut notes)?;
        let mut request = UpstreamRequest::post_json(
            join_url(&self.base_url, "v2/chat"),
            to_body(&body)?,
            req.stream,
        );
        if let Some(key) = &self.api_key {
            request.secret_header("authorization", &format!("Bearer {}", key.expose()))?;
        }
        Ok(Rendered {
            request,
            notes: notes.0,
        })
    }
}
