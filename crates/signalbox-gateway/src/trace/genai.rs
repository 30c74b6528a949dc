//! Owns what the exported spans say about a chat request, in the
//! OpenTelemetry GenAI semantic conventions ([`SEMCONV_VERSION`]) plus
//! Signalbox's own `signalbox.*` attributes: the request's span (kind
//! server) gets the operation, the requested and answering model, usage,
//! finish reasons and sampling parameters, the route, tenant, policy
//! version, degradation steps and outcome; each upstream attempt becomes a
//! child span (kind client) built afterwards from the attempt list dispatch
//! reports (route, provider, attempt number, outcome, breaker state), placed
//! in the timeline with explicit start and end times — no instrumentation in
//! the attempt loop. Prompt and completion content never goes into a span.
//! Everything here runs only when the request has a span (export on).

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use signalbox_core::{AttemptRecord, ChatRequest, OutcomeClass, ProviderKind, Usage, WireFormat};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::ctx::RequestCtx;
use crate::respond::headers;

/// The schema URL of the semantic-conventions release these attributes
/// follow: 1.37.0, the first with `gen_ai.provider.name` (which replaced
/// `gen_ai.system`). Both tracers declare it in their scope.
pub const SEMCONV_SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.37.0";

/// The instrumentation scope of every span the gateway exports.
pub fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder("signalbox")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(SEMCONV_SCHEMA_URL)
        .build()
}

/// `gen_ai.operation.name`: every endpoint the pipeline serves is a chat.
const OPERATION: &str = "chat";

/// The tracer of the attempt spans: the process's global provider's (the
/// binary installs its OTLP provider there), looked up once.
fn tracer() -> &'static opentelemetry::global::BoxedTracer {
    static TRACER: OnceLock<opentelemetry::global::BoxedTracer> = OnceLock::new();
    TRACER.get_or_init(|| opentelemetry::global::tracer_provider().tracer_with_scope(scope()))
}

/// The caller's sampling parameters (`gen_ai.request.*`), read from the
/// request only when it has a span.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sampling {
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_tokens: Option<i64>,
}

impl Sampling {
    /// `None` when the request has no span: nothing is read.
    pub fn of(span: &tracing::Span, req: &ChatRequest) -> Option<Self> {
        if span.is_none() {
            return None;
        }
        let body = req.body();
        let number = |k: &str| body.get(k).and_then(serde_json::Value::as_f64);
        let max_tokens = body
            .get("max_tokens")
            .or_else(|| body.get("max_completion_tokens"))
            .and_then(serde_json::Value::as_i64);
        Some(Self {
            temperature: number("temperature"),
            top_p: number("top_p"),
            max_tokens,
        })
    }

    fn attributes(self, out: &mut Vec<KeyValue>) {
        if let Some(t) = self.temperature {
            out.push(KeyValue::new("gen_ai.request.temperature", t));
        }
        if let Some(p) = self.top_p {
            out.push(KeyValue::new("gen_ai.request.top_p", p));
        }
        if let Some(m) = self.max_tokens {
            out.push(KeyValue::new("gen_ai.request.max_tokens", m));
        }
    }
}

/// What a JSON answer says about itself: its id, the model that answered
/// and why each choice stopped (OpenAI `choices[].finish_reason`,
/// Anthropic `stop_reason`, a Response object's `status` passed through).
/// Only these keys are read, and only when the request has a span.
#[derive(Debug, Default, serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
    #[serde(borrow, default)]
    stop_reason: Option<Cow<'a, str>>,
    /// A Response object's `completed` / `incomplete`.
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
}

#[derive(Debug, serde::Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

/// The answer's `gen_ai.response.*` attributes; none when the body is not
/// such JSON (legacy completions keep their own shape).
pub(crate) fn answer_attributes(body: &[u8], format: WireFormat) -> Vec<KeyValue> {
    let mut out = Vec::new();
    if matches!(
        format,
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Responses
    ) && let Ok(mut answer) = serde_json::from_slice::<Answer<'_>>(body)
    {
        if format != WireFormat::Responses {
            answer.status = None;
        }
        answer.attributes(&mut out);
    }
    out
}

impl Answer<'_> {
    fn attributes(&self, out: &mut Vec<KeyValue>) {
        if let Some(id) = &self.id {
            out.push(KeyValue::new("gen_ai.response.id", id.to_string()));
        }
        if let Some(model) = &self.model {
            out.push(KeyValue::new("gen_ai.response.model", model.to_string()));
        }
        let reasons: Vec<StringValue> = self
            .choices
            .iter()
            .filter_map(|c| c.finish_reason.as_deref())
            .chain(self.stop_reason.as_deref())
            .chain(self.status.as_deref())
            .map(|r| StringValue::from(r.to_owned()))
            .collect();
        if !reasons.is_empty() {
            out.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                Value::Array(Array::String(reasons)),
            ));
        }
    }
}

/// How the request ended, as `finish` knows it.
pub(crate) struct Ending {
    /// The status the caller got.
    pub status: u16,
    /// The record's outcome (`served`, `failed`, …).
    pub outcome: &'static str,
    /// The error's code (`upstream_unavailable`, …), when the request failed.
    pub error_type: Option<&'static str>,
    /// The JSON answer's own facts ([`answer_attributes`]).
    pub answer: Vec<KeyValue>,
}

/// Sets the request span's attributes and emits one child span per
/// upstream attempt. Nothing happens when the request has no span.
pub(crate) fn annotate(ctx: &RequestCtx, ending: &Ending) {
    if ctx.span.is_none() {
        return;
    }
    let cx = ctx.span.context();
    let span = cx.span();
    let alias = ctx.alias.as_ref().map_or("-", |a| a.as_str());
    span.update_name(format!("{OPERATION} {alias}"));
    span.set_attributes(request_attributes(ctx, ending, alias));
    // A server span's status is Error for 5xx only (the conventions): a
    // refused request is the caller's error, not the gateway's.
    if ending.status >= 500 {
        span.set_status(Status::error(ending.error_type.unwrap_or(ending.outcome)));
    }
    let now = signalbox_core::clock::system_now();
    let arrived = now.checked_sub(ctx.started.elapsed()).unwrap_or(now);
    for (n, attempt) in ctx.attempts.iter().enumerate() {
        attempt_span(ctx, &cx, arrived, n + 1, attempt);
    }
}

fn request_attributes(ctx: &RequestCtx, ending: &Ending, alias: &str) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(24);
    out.push(KeyValue::new("gen_ai.operation.name", OPERATION));
    out.push(KeyValue::new("gen_ai.request.model", alias.to_owned()));
    if let Some(s) = ctx.sampling {
        s.attributes(&mut out);
    }
    if let Some(kind) = ctx.route.and_then(|r| route_facts(ctx, r)).map(|f| f.kind) {
        out.push(KeyValue::new("gen_ai.provider.name", provider_name(kind)));
    }
    out.extend(ending.answer.iter().cloned());
    if let Some(u) = ctx.usage {
        usage_attributes(u, &mut out);
    }
    if let Some(e) = ending.error_type {
        out.push(KeyValue::new("error.type", e));
    }
    out.push(KeyValue::new(
        "http.response.status_code",
        i64::from(ending.status),
    ));
    out.push(KeyValue::new("signalbox.alias", alias.to_owned()));
    out.push(KeyValue::new(
        "signalbox.tenant",
        ctx.tenant_id().to_owned(),
    ));
    out.push(KeyValue::new(
        "signalbox.policy_version",
        ctx.runtime.config.version.clone(),
    ));
    out.push(KeyValue::new("signalbox.outcome", ending.outcome));
    out.push(KeyValue::new(
        "signalbox.attempts",
        count(ctx.attempts.len()),
    ));
    if let Some(r) = headers::route(ctx) {
        let text = |v: &axum::http::HeaderValue| v.to_str().unwrap_or_default().to_owned();
        out.push(KeyValue::new("signalbox.route", text(&r.route)));
        out.push(KeyValue::new("signalbox.provider", text(&r.provider)));
    }
    if !ctx.degraded.is_empty() {
        out.push(KeyValue::new(
            "signalbox.degraded_step",
            headers::steps(&ctx.degraded),
        ));
    }
    if !ctx.skipped.is_empty() {
        let skipped = ctx
            .skipped
            .iter()
            .map(|s| StringValue::from(format!("{}:{}", s.route, s.kind.label())))
            .collect();
        out.push(KeyValue::new(
            "signalbox.skipped",
            Value::Array(Array::String(skipped)),
        ));
    }
    out
}

/// One attempt as a client span, child of the request's, from when it was
/// sent to its outcome (for a served stream: its first event).
fn attempt_span(
    ctx: &RequestCtx,
    parent: &Context,
    arrived: SystemTime,
    number: usize,
    a: &AttemptRecord,
) {
    let idx = ctx.runtime.routes.index(a.route.as_str());
    let facts = idx.and_then(|r| route_facts(ctx, r));
    // The route's breaker now (after the request's attempts counted).
    let breaker = idx
        .and_then(|r| ctx.runtime.routes.get(r))
        .map(|r| r.health.view().state);
    let model = facts.as_ref().map_or("", |f| f.model);
    let mut attrs = Vec::with_capacity(14);
    attrs.push(KeyValue::new("gen_ai.operation.name", OPERATION));
    attrs.push(KeyValue::new("gen_ai.request.model", model.to_owned()));
    attrs.push(KeyValue::new("signalbox.route", a.route.to_string()));
    attrs.push(KeyValue::new("signalbox.provider", a.provider.to_string()));
    attrs.push(KeyValue::new("signalbox.attempt", count(number)));
    attrs.push(KeyValue::new(
        "signalbox.attempt.outcome",
        a.outcome.label(),
    ));
    if let Some(f) = &facts {
        attrs.push(KeyValue::new("gen_ai.provider.name", provider_name(f.kind)));
        if let Some((host, port)) = &f.server {
            attrs.push(KeyValue::new("server.address", host.clone()));
            attrs.push(KeyValue::new("server.port", i64::from(*port)));
        }
    }
    if let Some(state) = breaker {
        attrs.push(KeyValue::new("signalbox.breaker.state", state));
    }
    if let Some(status) = a.status {
        attrs.push(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
    }
    if let Some(secs) = a.retry_after_secs {
        attrs.push(KeyValue::new(
            "signalbox.retry_after_s",
            i64::try_from(secs).unwrap_or(i64::MAX),
        ));
    }
    let failed = a.outcome != OutcomeClass::Success;
    if failed {
        attrs.push(KeyValue::new("error.type", a.outcome.label()));
    }
    let start = arrived + a.sent_after;
    let mut span = tracer()
        .span_builder(format!("{OPERATION} {model}"))
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attrs)
        .start_with_context(tracer(), parent);
    if failed {
        span.set_status(Status::error(a.detail.clone()));
    }
    span.end_with_timestamp(start + a.elapsed);
}

/// What an attempt span needs from its route's configuration.
struct RouteFacts<'a> {
    kind: ProviderKind,
    model: &'a str,
    /// The provider's host and port.
    server: Option<(String, u16)>,
}

fn route_facts(ctx: &RequestCtx, idx: signalbox_core::RouteIdx) -> Option<RouteFacts<'_>> {
    let route = ctx.runtime.route_config(idx)?;
    let provider = ctx.runtime.config.provider(&route.provider)?;
    Some(RouteFacts {
        kind: provider.kind,
        model: &route.model,
        server: server(&provider.base_url),
    })
}

/// `server.address` and `server.port` of a provider's base URL.
fn server(base_url: &str) -> Option<(String, u16)> {
    let uri: axum::http::Uri = base_url.parse().ok()?;
    let host = uri.host()?.to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    Some((host, port))
}

/// `gen_ai.provider.name` for a provider kind: the conventions' well-known
/// value (an OpenAI-compatible server is reported as `openai`, the API it
/// speaks; `signalbox.provider` names the configured provider).
pub fn provider_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAiCompatible => "openai",
        ProviderKind::AzureOpenAi => "azure.ai.openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Bedrock => "aws.bedrock",
        ProviderKind::Cohere => "cohere",
    }
}

fn usage_attributes(u: Usage, out: &mut Vec<KeyValue>) {
    let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    out.push(KeyValue::new(
        "gen_ai.usage.input_tokens",
        tokens(u.prompt_tokens),
    ));
    out.push(KeyValue::new(
        "gen_ai.usage.output_tokens",
        tokens(u.completion_tokens),
    ));
}

/// A stream's end on its request span: how it ended and what it used.
pub(crate) fn stream_ended(span: &tracing::Span, label: &'static str, usage: Option<Usage>) {
    if span.is_none() {
        return;
    }
    let cx = span.context();
    let mut attrs = Vec::with_capacity(3);
    attrs.push(KeyValue::new("signalbox.stream", label));
    if let Some(u) = usage {
        usage_attributes(u, &mut attrs);
    }
    cx.span().set_attributes(attrs);
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(body: &str, format: WireFormat) -> Vec<(String, String)> {
        answer_attributes(body.as_bytes(), format)
            .into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    }

    #[test]
    fn an_answer_names_its_model_and_finish_reasons_in_either_format() {
        let openai = r#"{"id":"c1","model":"gpt-4o-2024","choices":[{"finish_reason":"stop"},{"finish_reason":"length"}],"usage":{}}"#;
        let got = attrs(openai, WireFormat::OpenAi);
        assert!(got.contains(&("gen_ai.response.model".into(), "gpt-4o-2024".into())));
        assert!(got.contains(&("gen_ai.response.id".into(), "c1".into())));
        let reasons = &got
            .iter()
            .find(|(k, _)| k.ends_with("finish_reasons"))
            .unwrap()
            .1;
        assert!(
            reasons.contains("stop") && reasons.contains("length"),
            "{reasons}"
        );
        let anthropic = r#"{"id":"msg_1","type":"message","model":"claude-x","stop_reason":"end_turn","content":[]}"#;
        let got = attrs(anthropic, WireFormat::Anthropic);
        assert!(got.contains(&("gen_ai.response.model".into(), "claude-x".into())));
        assert!(
            got.iter()
                .any(|(k, v)| k.ends_with("finish_reasons") && v.contains("end_turn"))
        );
        let response = r#"{"id":"resp_1","object":"response","model":"gpt-5","status":"completed","output":[]}"#;
        let got = attrs(response, WireFormat::Responses);
        assert!(got.contains(&("gen_ai.response.id".into(), "resp_1".into())));
        assert!(
            got.iter()
                .any(|(k, v)| k.ends_with("finish_reasons") && v.contains("completed"))
        );
        assert!(attrs("not json", WireFormat::OpenAi).is_empty());
    }

    #[test]
    fn nothing_is_read_without_a_span() {
        let req = ChatRequest::parse(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5}"#,
        )
        .unwrap();
        assert!(Sampling::of(&tracing::Span::none(), &req).is_none());
    }

    #[test]
    fn the_server_is_the_providers_host_and_port() {
        assert_eq!(
            server("https://api.openai.com/v1"),
            Some(("api.openai.com".into(), 443))
        );
        assert_eq!(
            server("http://127.0.0.1:9001/v1"),
            Some(("127.0.0.1".into(), 9001))
        );
        assert_eq!(
            server("http://localhost/v1"),
            Some(("localhost".into(), 80))
        );
        assert_eq!(provider_name(ProviderKind::Bedrock), "aws.bedrock");
    }
}
