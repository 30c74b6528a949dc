//! The OpenAI chat-completions adapter, used for OpenAI itself and for every
//! OpenAI-compatible server (vLLM, Ollama, Groq, …).
//!
//! An [`Upstream`] owns one provider's connection pool, credentials and
//! timeouts. `send_chat` resolves when the response head arrives (bounded by
//! the first-byte timeout) and turns every non-2xx answer into a classified
//! [`UpstreamError`], so the dispatcher only ever sees usable responses or
//! typed failures.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde::Deserialize;
use signalbox_config::{ProviderConfig, Timeouts};
use signalbox_core::{OutcomeClass, ProviderName, Usage};
use thiserror::Error;

use crate::classify::{UpstreamError, rate_limit_reset};

/// Largest non-streaming response body accepted from a provider.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Largest error body read to explain a failure.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Why an upstream client could not be built from its configuration.
#[derive(Debug, Error)]
pub enum UpstreamBuildError {
    /// The base URL does not form a valid endpoint URL.
    #[error("provider {provider}: invalid endpoint URL: {reason}")]
    Url {
        /// The provider's name.
        provider: String,
        /// What was wrong.
        reason: String,
    },
    /// A header name or value is not valid HTTP.
    #[error("provider {provider}: invalid header {name:?}")]
    Header {
        /// The provider's name.
        provider: String,
        /// The header name.
        name: String,
    },
    /// The HTTP client could not be created (TLS setup).
    #[error("provider {provider}: HTTP client: {reason}")]
    Client {
        /// The provider's name.
        provider: String,
        /// What failed.
        reason: String,
    },
}

/// One provider endpoint: its pool, credentials and timeouts.
#[derive(Debug)]
pub struct Upstream {
    name: ProviderName,
    chat_url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
    timeouts: Timeouts,
}

/// A successful non-streaming answer.
#[derive(Debug, Clone)]
pub struct ChatJson {
    /// The provider's JSON body, forwarded as is.
    pub body: Bytes,
    /// Token usage, when the provider reported it.
    pub usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ResponseShape {
    #[serde(rename = "choices")]
    _choices: serde::de::IgnoredAny,
    #[serde(default)]
    usage: Option<Usage>,
}

impl Upstream {
    /// Builds the client for one configured provider.
    pub fn new(cfg: &ProviderConfig) -> Result<Self, UpstreamBuildError> {
        let provider = cfg.name.to_string();
        let chat_url = reqwest::Url::parse(&format!(
            "{}/chat/completions",
            cfg.base_url.trim_end_matches('/')
        ))
        .map_err(|e| UpstreamBuildError::Url {
            provider: provider.clone(),
            reason: e.to_string(),
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in &cfg.headers {
            let bad = || UpstreamBuildError::Header {
                provider: provider.clone(),
                name: name.clone(),
            };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let v = HeaderValue::from_str(value).map_err(|_| bad())?;
            headers.insert(n, v);
        }
        if let Some(key) = &cfg.api_key {
            let mut v =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    UpstreamBuildError::Header {
                        provider: provider.clone(),
                        name: "authorization".into(),
                    }
                })?;
            v.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, v);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.timeouts.connect)
            .timeout(cfg.timeouts.total)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| UpstreamBuildError::Client {
                provider: provider.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            name: cfg.name.clone(),
            chat_url,
            client,
            headers,
            timeouts: cfg.timeouts,
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &ProviderName {
        &self.name
    }

    /// The provider's timeouts.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Sends a rendered chat request. Resolves with the response once its
    /// head has arrived with a 2xx status; any other outcome is a classified
    /// error (non-2xx bodies are read, bounded, to explain the failure).
    pub async fn send_chat(
        &self,
        body: Vec<u8>,
        stream: bool,
        request_id: &str,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut req = self
            .client
            .post(self.chat_url.clone())
            .headers(self.headers.clone())
            .header(
                header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .body(body);
        if let Ok(v) = HeaderValue::from_str(request_id) {
            req = req.header("x-request-id", v);
        }
        let first_byte = self.timeouts.first_byte;
        let resp = match tokio::time::timeout(first_byte, req.send()).await {
            Err(_) => return Err(UpstreamError::timeout("first-byte", first_byte)),
            Ok(Err(e)) => return Err(UpstreamError::from_transport(&e)),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = rate_limit_reset(resp.headers());
        let body = read_bounded(resp, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        Err(UpstreamError::from_status(
            status.as_u16(),
            retry_after,
            &body,
        ))
    }

    /// Reads a whole non-streaming answer and checks that it is a chat
    /// completion (a JSON object with `choices`).
    pub async fn read_json(&self, resp: reqwest::Response) -> Result<ChatJson, UpstreamError> {
        let body = read_limited(resp, MAX_RESPONSE_BYTES).await?;
        match serde_json::from_slice::<ResponseShape>(&body) {
            Ok(shape) => Ok(ChatJson {
                body,
                usage: shape.usage,
            }),
            Err(e) => Err(UpstreamError::new(
                OutcomeClass::BadResponse,
                format!("upstream answered 2xx with an invalid chat completion: {e}"),
            )),
        }
    }
}

/// Reads a body up to `limit` bytes, failing past it.
async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Bytes, UpstreamError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(UpstreamError::new(
            OutcomeClass::BadResponse,
            format!("response larger than {limit} bytes"),
        ));
    }
    let mut stream = resp.bytes_stream();
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| UpstreamError::from_transport(&e))?;
        if first.is_none() && buf.is_empty() && chunk.len() <= limit {
            first = Some(chunk);
            continue;
        }
        if let Some(f) = first.take() {
            buf.extend_from_slice(&f);
        }
        buf.extend_from_slice(&chunk);
        if buf.len() > limit {
            return Err(UpstreamError::new(
                OutcomeClass::BadResponse,
                format!("response larger than {limit} bytes"),
            ));
        }
    }
    // The common case (one chunk) needs no copy.
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

/// Reads at most `limit` bytes of a body, ignoring errors (used to explain
/// failures, where a partial body is still useful).
async fn read_bounded(resp: reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= limit {
            break;
        }
    }
    Some(buf)
}
