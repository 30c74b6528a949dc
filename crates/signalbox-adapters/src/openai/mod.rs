//! Owns the OpenAI chat-completions format: ingress parsing, rendering
//! answers and streams back to OpenAI clients, and the egress adapter for
//! OpenAI and the OpenAI-compatible family (with declared quirks).

mod format;
mod ingress;
#[cfg(feature = "mock")]
pub mod mock;
mod render;
mod response;
mod stream;
mod wire;

pub use format::{FORMAT, OpenAiFormat};
pub use ingress::{parse_request, read_request};
pub use response::{parse_error, parse_response, render_response};
pub use signalbox_core::{MaxTokensField, OpenAiQuirks};
pub use stream::{ChunkDecoder, SseEncoder};

pub(crate) use format::stream_error_class;
pub(crate) use render::body as render_body;

use crate::canonical::ChatRequest;
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{Rendered, RouteSettings, Secret, UpstreamRequest, join_url, to_body};

/// A request read from another ingress format, in OpenAI's chat format as
/// the gateway's pipeline reads it (the alias stays the model; nothing is
/// serialised). The notes reading the client's body and rendering this
/// view took stay in `req.notes`.
pub fn view(
    req: &mut ChatRequest,
) -> Result<serde_json::Map<String, serde_json::Value>, TranslateError> {
    let route = RouteSettings::new(req.model.clone());
    let mut notes = Notes(std::mem::take(&mut req.notes));
    let view = render_body(req, &route, &OpenAiQuirks::default(), &mut notes);
    req.notes = notes.0;
    view
}

/// An OpenAI or OpenAI-compatible upstream.
#[derive(Debug, Clone)]
pub struct OpenAiAdapter {
    /// Base URL including the version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<Secret>,
    /// What this provider accepts.
    pub quirks: OpenAiQuirks,
}

impl OpenAiAdapter {
    /// Renders `req` for this upstream: `POST {base_url}/chat/completions`.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Rendered, TranslateError> {
        let mut notes = Notes::default();
        let body = render_body(req, route, &self.quirks, &mut notes)?;
        let mut request = UpstreamRequest::post_json(
            join_url(&self.base_url, "chat/completions"),
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

    /// A Responses client's own body (already given its upstream model):
    /// `POST {base_url}/responses`. Quirks are the chat API's; the body is
    /// the client's, passed through untranslated.
    pub fn forward_responses(
        &self,
        body: Vec<u8>,
        stream: bool,
    ) -> Result<UpstreamRequest, TranslateError> {
        let mut request =
            UpstreamRequest::post_json(join_url(&self.base_url, "responses"), body, stream);
        if let Some(key) = &self.api_key {
            request.secret_header("authorization", &format!("Bearer {}", key.expose()))?;
        }
        Ok(request)
    }

    /// Renders one embeddings batch: `POST {base_url}/embeddings`, the
    /// client's body with the model (and batch) swapped.
    pub fn render_embeddings(
        &self,
        body: &crate::EmbeddingsBody<'_>,
        route: &RouteSettings,
    ) -> Result<UpstreamRequest, TranslateError> {
        let json = crate::embeddings::openai_body(body, &route.upstream_model);
        let mut request =
            UpstreamRequest::post_json(join_url(&self.base_url, "embeddings"), json, false);
        if let Some(key) = &self.api_key {
            request.secret_header("authorization", &format!("Bearer {}", key.expose()))?;
        }
        Ok(request)
    }
}
