//! The `x-signalbox-*` headers: the decision's summary on every response.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use signalbox_core::headers as names;

/// What the response headers report about a request.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    /// The request id (caller's or generated).
    pub request_id: String,
    /// The loaded configuration's version.
    pub policy_version: HeaderValue,
    /// Route, provider and model version of the serving (or last tried) route.
    pub route: Option<RouteHeaders>,
    /// Upstream attempts made.
    pub attempts: usize,
    /// Degradation steps taken, in order (`x-signalbox-degraded`).
    pub degraded: Vec<&'static str>,
    /// The registered prompt used, `id@version` (`x-signalbox-prompt-version`).
    pub prompt: Option<HeaderValue>,
}

/// Pre-built header values for one route, made once per configuration load.
#[derive(Debug, Clone)]
pub struct RouteHeaders {
    /// `x-signalbox-route`
    pub route: HeaderValue,
    /// `x-signalbox-provider`
    pub provider: HeaderValue,
    /// `x-signalbox-model`
    pub model: HeaderValue,
}

impl ResponseMeta {
    /// Writes the headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert(HeaderName::from_static(names::REQUEST_ID), v);
        }
        headers.insert(
            HeaderName::from_static(names::POLICY_VERSION),
            self.policy_version.clone(),
        );
        headers.insert(
            HeaderName::from_static(names::ATTEMPTS),
            HeaderValue::from(self.attempts),
        );
        if !self.degraded.is_empty()
            && let Ok(v) = HeaderValue::from_str(&self.degraded.join(","))
        {
            headers.insert(HeaderName::from_static(names::DEGRADED), v);
        }
        if let Some(p) = &self.prompt {
            headers.insert(HeaderName::from_static(names::PROMPT_VERSION), p.clone());
        }
        if let Some(r) = &self.route {
            headers.insert(HeaderName::from_static(names::ROUTE), r.route.clone());
            headers.insert(HeaderName::from_static(names::PROVIDER), r.provider.clone());
            headers.insert(HeaderName::from_static(names::MODEL), r.model.clone());
        }
    }
}
