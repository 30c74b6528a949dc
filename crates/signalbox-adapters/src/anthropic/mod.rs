//! Owns the Anthropic Messages format: ingress parsing (`POST /v1/messages`),
//! rendering answers and streams back to Anthropic clients, and the egress
//! adapter for the Anthropic API.

mod format;
mod ingress;
#[cfg(feature = "mock")]
pub mod mock;
mod passthrough;
mod render;
mod response;
mod stream;
mod wire;

pub use format::{AnthropicFormat, FORMAT};
pub use ingress::parse_request;
pub use passthrough::{Ingress, error_event, parse_ingress, usage_of_event, usage_of_message};
pub use response::{parse_error, parse_response, render_response};
pub use stream::{EventDecoder, SseEncoder};

pub(crate) use render::arguments;
pub(crate) use response::error_class;

use crate::canonical::ChatRequest;
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{Rendered, RouteSettings, Secret, UpstreamRequest, join_url, to_body};

/// The `anthropic-version` header sent upstream.
pub const API_VERSION: &str = "2023-06-01";

/// The Anthropic API.
#[derive(Debug, Clone)]
pub struct AnthropicAdapter {
    /// Host root as the Anthropic SDK takes it, e.g. `https://api.anthropic.com`;
    /// the adapter appends `/v1/messages`.
    pub base_url: String,
    /// Sent as `x-api-key`.
    pub api_key: Option<Secret>,
}

impl AnthropicAdapter {
    /// Renders `req`: `POST {base_url}/v1/messages`.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Rendered, TranslateError> {
        let mut notes = Notes::default();
        let body = render::body(req, route, &mut notes)?;
        let mut request = UpstreamRequest::post_json(
            join_url(&self.base_url, "v1/messages"),
            to_body(&body)?,
            req.stream,
        );
        if let Some(key) = &self.api_key {
            request.secret_header("x-api-key", key.expose())?;
        }
        request.header("anthropic-version", API_VERSION)?;
        Ok(Rendered {
            request,
            notes: notes.0,
        })
    }
}
