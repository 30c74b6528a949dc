//! Owns the Google Gemini adapter (`generateContent` and
//! `streamGenerateContent?alt=sse`): contents/parts, `systemInstruction`,
//! function declarations, calls and responses, safety settings from the
//! route's content-filter level, `generationConfig`, finish reasons and
//! `usageMetadata`.

mod format;
#[cfg(feature = "mock")]
pub mod mock;
mod render;
mod response;
mod schema;
mod stream;
#[cfg(test)]
mod tests;

pub use format::{FORMAT, GeminiFormat};
pub use response::{parse_error, parse_response};
pub use stream::ChunkDecoder;

use crate::canonical::ChatRequest;
use crate::error::TranslateError;
use crate::note::Notes;
use crate::route::{
    Rendered, RouteSettings, Secret, UpstreamRequest, encode_segment, join_url, to_body,
};

/// The Gemini API (Google AI Studio).
#[derive(Debug, Clone)]
pub struct GeminiAdapter {
    /// Host root, e.g. `https://generativelanguage.googleapis.com`.
    pub base_url: String,
    /// API version path segment, e.g. `v1beta`.
    pub api_version: String,
    /// Sent as `x-goog-api-key`.
    pub api_key: Option<Secret>,
}

impl GeminiAdapter {
    /// Renders `req`: `POST {base}/{version}/models/{model}:generateContent`,
    /// or `:streamGenerateContent?alt=sse` for streams.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Rendered, TranslateError> {
        let mut notes = Notes::default();
        let body = render::body(req, route, &mut notes)?;
        let method = if req.stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let path = format!(
            "{}/models/{}:{method}",
            self.api_version.trim_matches('/'),
            encode_segment(&route.upstream_model)
        );
        let mut request = UpstreamRequest::post_json(
            join_url(&self.base_url, &path),
            to_body(&body)?,
            req.stream,
        );
        if let Some(key) = &self.api_key {
            request.secret_header("x-goog-api-key", key.expose())?;
        }
        Ok(Rendered {
            request,
            notes: notes.0,
        })
    }
}
