//! The `x-signalbox-*` headers: the decision's summary on every response.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use signalbox_core::headers as names;

/// What the response headers report about a request.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    /// The request id echoed as `x-request-id` (caller's or generated).
    pub request_id: String,
    /// The same id as a header value.
    pub request_id_header: HeaderValue,
    /// The gateway's own id, the decision record's key (`x-signalbox-request-id`).
    pub gateway_request_id: HeaderValue,
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
    /// The caller's output limit lowered to the serving route's, e.g.
    /// `16384->8192` (`x-signalbox-max-tokens-clamped`).
    pub max_tokens_clamped: Option<HeaderValue>,
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
        // Room for these headers at once, rather than growing the map while
        // inserting (a no-op when the response was built with room).
        headers.reserve(9);
        headers.insert(
            HeaderName::from_static(names::REQUEST_ID),
            self.request_id_header.clone(),
        );
        headers.insert(
            HeaderName::from_static(names::GATEWAY_REQUEST_ID),
            self.gateway_request_id.clone(),
        );
        headers.insert(
            HeaderName::from_static(names::POLICY_VERSION),
            self.policy_version.clone(),
        );
        headers.insert(
            HeaderName::from_static(names::ATTEMPTS),
            count(self.attempts),
        );
        if !self.degraded.is_empty()
            && let Ok(v) = HeaderValue::from_str(&self.degraded.join(","))
        {
            headers.insert(HeaderName::from_static(names::DEGRADED), v);
        }
        if let Some(p) = &self.prompt {
            headers.insert(HeaderName::from_static(names::PROMPT_VERSION), p.clone());
        }
        if let Some(c) = &self.max_tokens_clamped {
            headers.insert(
                HeaderName::from_static(names::MAX_TOKENS_CLAMPED),
                c.clone(),
            );
        }
        if let Some(r) = &self.route {
            headers.insert(HeaderName::from_static(names::ROUTE), r.route.clone());
            headers.insert(HeaderName::from_static(names::PROVIDER), r.provider.clone());
            headers.insert(HeaderName::from_static(names::MODEL), r.model.clone());
        }
    }
}

/// A small count as a header value: the usual attempt counts are static
/// strings, so writing them allocates nothing.
fn count(n: usize) -> HeaderValue {
    const SMALL: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    SMALL
        .get(n)
        .map_or_else(|| HeaderValue::from(n), |s| HeaderValue::from_static(s))
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_render_as_decimal() {
        for n in [0, 1, 9, 10, 12, 100] {
            assert_eq!(count(n).to_str().ok(), Some(n.to_string().as_str()));
        }
    }
}
