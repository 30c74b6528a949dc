//! Owns the Azure OpenAI adapter: the OpenAI body, addressed to a
//! deployment with an `api-version` and an `api-key` header. Responses,
//! streams and errors use the OpenAI parsers.

use http::HeaderMap;
use signalbox_core::{OutcomeClass, ProviderKind};

use crate::adapter::{Adapter, Endpoint, ProviderFormat, StreamDecoder, render_without_clock};
use crate::canonical::{ChatRequest, ChatResponse};
use crate::error::{ProviderError, ResponseError, TranslateError};
use crate::note::Notes;
use crate::openai::{self, OpenAiQuirks, render_body};
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

    /// A Responses client's own body (already given its deployment as the
    /// model): `POST {endpoint}/openai/v1/responses`, Azure's v1 API,
    /// which takes the deployment in the body and needs no `api-version`.
    pub fn forward_responses(
        &self,
        body: Vec<u8>,
        stream: bool,
    ) -> Result<UpstreamRequest, TranslateError> {
        let mut request = UpstreamRequest::post_json(
            join_url(&self.endpoint, "openai/v1/responses"),
            body,
            stream,
        );
        if let Some(key) = &self.api_key {
            request.secret_header("api-key", key.expose())?;
        }
        Ok(request)
    }

    /// Renders one embeddings batch: `POST {endpoint}/openai/deployments/
    /// {deployment}/embeddings?api-version=…`, OpenAI's body.
    pub fn render_embeddings(
        &self,
        body: &crate::EmbeddingsBody<'_>,
        route: &RouteSettings,
    ) -> Result<UpstreamRequest, TranslateError> {
        let path = format!(
            "openai/deployments/{}/embeddings?api-version={}",
            encode_segment(&route.upstream_model),
            encode_segment(&self.api_version)
        );
        let json = crate::embeddings::openai_body(body, &route.upstream_model);
        let mut request = UpstreamRequest::post_json(join_url(&self.endpoint, &path), json, false);
        if let Some(key) = &self.api_key {
            request.secret_header("api-key", key.expose())?;
        }
        Ok(request)
    }
}

// === impl ProviderFormat ===

/// Azure OpenAI: OpenAI's body, answers and streams at a deployment URL.
#[derive(Debug)]
pub struct AzureFormat;

/// The registered Azure OpenAI format.
pub static FORMAT: AzureFormat = AzureFormat;

impl ProviderFormat for AzureFormat {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn adapter(&self, endpoint: &Endpoint) -> Option<Adapter> {
        let default = ProviderKind::AzureOpenAi.settings().api_version;
        Some(Adapter::new(AzureAdapter {
            endpoint: endpoint.base_url.clone(),
            api_version: endpoint
                .api_version
                .clone()
                .or_else(|| default.map(str::to_owned))
                .unwrap_or_default(),
            api_key: endpoint.api_key.clone(),
            quirks: endpoint.quirks.clone(),
        }))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatResponse, ResponseError> {
        openai::parse_response(body)
    }

    fn parse_error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        ProviderError {
            provider: "azure",
            ..openai::parse_error(status, body)
        }
    }

    fn stream_error_class(&self, kind: &str) -> OutcomeClass {
        openai::stream_error_class(kind)
    }

    fn stream_decoder(&self) -> StreamDecoder {
        StreamDecoder::new(openai::ChunkDecoder::new())
    }
}

render_without_clock!(AzureAdapter, FORMAT, embeddings, responses);
