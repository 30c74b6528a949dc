//! Owns the Azure OpenAI adapter: the OpenAI body, addressed to a
//! deployment with an `api-version` and an `api-key` header. Responses,
//! streams and errors use the OpenAI parsers.

use crate::canonical::ChatRequest;
use crate::error::TranslateError;
use crate::note::Notes;
use crate::openai::{OpenAiQuirks, render_body};
use crate::route::{
    Rendered, RouteSettings, Secret, UpstreamRequest, encode_segment, join_url, to_body,
};

/// An Azure OpenAI resource. The route's upstream model is the deployment name.
#[derive(Debug, Clone)]
pub struct AzureAdapter {
    /// Resource endpoint, e.g. `https://my-resource.openai.azure.com`.
    pub endpoint: String,
    /// The `api-version` query value, e.g. `2024-10-21`.
    pub api_version: String,
    /// Sent as the `api-key` header.
    pub api_key: Option<Secret>,
    /// What the deployment accepts (Azure follows OpenAI, with lag).
    pub quirks: OpenAiQuirks,
}

impl AzureAdapter {
    /// Renders `req`: `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`.
    pub fn render(
        &self,
        req: &ChatRequest,
        route: &RouteSettings,
    ) -> Result<Rendered, TranslateError> {
        let mut notes = Notes::default();
        let body = render_body(req, route, &self.quirks, &mut notes)?;
        let path = format!(
            "openai/deployments/{}/chat/completions?api-version={}",
            encode_segment(&route.upstream_model),
            encode_segment(&self.api_version)
        );
        let mut request = UpstreamRequest::post_json(
            join_url(&self.endpoint, &path),
            to_body(&body)?,
            req.stream,
        );
        if let Some(key) = &self.api_key {
            request.secret_header("api-key", key.expose())?;
        }
        Ok(Rendered {
            request,
            notes: notes.0,
        })
    }
}
