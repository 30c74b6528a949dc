//! The `x-signalbox-*` headers: the decision's summary on every response,
//! written from the request's context; and the head of a served answer
//! (JSON or SSE).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use signalbox_config::DegradeStep;
use signalbox_core::canonical::{NoteAction, TranslationNote};
use signalbox_core::headers as names;

use crate::ctx::RequestCtx;

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

/// Headers a served response carries: content type (and, for streams, two
/// cache headers) plus the `x-signalbox-*` summary.
const RESPONSE_HEADERS: usize = 14;

/// Writes the `x-signalbox-*` summary of the request's context.
pub(crate) fn apply(headers: &mut HeaderMap, ctx: &RequestCtx) {
    // Room for these headers at once, rather than growing the map while
    // inserting (a no-op when the response was built with room).
    headers.reserve(9);
    headers.insert(
        HeaderName::from_static(names::REQUEST_ID),
        ctx.ids.echo_header.clone(),
    );
    headers.insert(
        HeaderName::from_static(names::GATEWAY_REQUEST_ID),
        ctx.ids.gateway_header.clone(),
    );
    headers.insert(
        HeaderName::from_static(names::POLICY_VERSION),
        ctx.runtime.version_header.clone(),
    );
    headers.insert(
        HeaderName::from_static(names::ATTEMPTS),
        count(ctx.attempts.len()),
    );
    if !ctx.degraded.is_empty()
        && let Ok(v) = HeaderValue::from_str(&steps(&ctx.degraded))
    {
        headers.insert(HeaderName::from_static(names::DEGRADED), v);
    }
    if (!ctx.actions.is_empty() || ctx.skipped.iter().any(|s| s.action.is_some()))
        && let Ok(v) = HeaderValue::from_str(&crate::record::operator_actions(ctx).join(","))
    {
        headers.insert(HeaderName::from_static(names::OPERATOR_ACTIONS), v);
    }
    if let Some(p) = ctx
        .prompt
        .as_ref()
        .and_then(|p| HeaderValue::from_str(&p.label).ok())
    {
        headers.insert(HeaderName::from_static(names::PROMPT_VERSION), p);
    }
    if let Some(c) = ctx
        .served
        .and_then(|s| s.max_tokens_clamped)
        .and_then(|c| HeaderValue::from_str(&c.to_string()).ok())
    {
        headers.insert(HeaderName::from_static(names::MAX_TOKENS_CLAMPED), c);
    }
    if let Some(v) = dropped_fields(&ctx.translation) {
        headers.insert(HeaderName::from_static(names::DROPPED_FIELDS), v);
    }
    if let Some(r) = route(ctx) {
        headers.insert(HeaderName::from_static(names::ROUTE), r.route.clone());
        headers.insert(HeaderName::from_static(names::PROVIDER), r.provider.clone());
        headers.insert(HeaderName::from_static(names::MODEL), r.model.clone());
    }
}

/// `x-signalbox-dropped-fields`: the request fields the serving route was
/// sent without (dropped notes, by the client's name, each once; the
/// route's own settings are not request fields). `None` when none were.
pub(crate) fn dropped_fields(notes: &[TranslationNote]) -> Option<HeaderValue> {
    let mut out = String::new();
    let fields = notes
        .iter()
        .filter(|n| n.action == NoteAction::Dropped)
        .filter_map(|n| signalbox_adapters::unsupported::client_field(&n.field));
    let mut seen: Vec<&str> = Vec::new();
    for field in fields {
        if seen.contains(&field) {
            continue;
        }
        seen.push(field);
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(field);
    }
    (!out.is_empty())
        .then(|| HeaderValue::from_str(&out).ok())
        .flatten()
}

/// The header values of the serving route, or on failure the last one tried.
pub(crate) fn route(ctx: &RequestCtx) -> Option<&RouteHeaders> {
    ctx.route
        .and_then(|i| ctx.runtime.routes.get(i))
        .map(|r| &r.ext.headers)
}

/// Degradation steps as `x-signalbox-degraded` lists them: `a,b`.
pub(crate) fn steps(steps: &[DegradeStep]) -> String {
    let mut out = String::with_capacity(steps.len() * 16);
    for (i, s) in steps.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(s.as_str());
    }
    out
}

/// A JSON answer's response, sized once for its headers.
pub(crate) fn json(body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().reserve(RESPONSE_HEADERS);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An SSE answer's response, sized once for its headers.
pub(crate) fn sse(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.reserve(RESPONSE_HEADERS);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    *resp.status_mut() = StatusCode::OK;
    resp
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
    use super::{DegradeStep, NoteAction, TranslationNote, count, dropped_fields, steps};

    #[test]
    fn dropped_fields_are_named_once_as_the_client_wrote_them() {
        let note = |field: &str, action| TranslationNote {
            field: field.to_owned(),
            action,
            reason: String::new(),
        };
        let notes = [
            note("sampling.seed", NoteAction::Dropped),
            note("extra.logit_bias", NoteAction::Dropped),
            note("sampling.seed", NoteAction::Dropped),
            note("route.retention", NoteAction::Dropped),
            note("response_format", NoteAction::Translated),
        ];
        let v = dropped_fields(&notes);
        assert_eq!(
            v.as_ref().and_then(|v| v.to_str().ok()),
            Some("seed,logit_bias")
        );
        assert!(dropped_fields(&notes[3..]).is_none());
    }

    #[test]
    fn degradation_steps_are_listed_in_order() {
        assert_eq!(steps(&[]), "");
        assert_eq!(
            steps(&[DegradeStep::FallbackRoute, DegradeStep::HumanEscalation]),
            "fallback-route,human-escalation"
        );
    }

    #[test]
    fn counts_render_as_decimal() {
        for n in [0, 1, 9, 10, 12, 100] {
            assert_eq!(count(n).to_str().ok(), Some(n.to_string().as_str()));
        }
    }
}
