//! The exported spans follow the OpenTelemetry GenAI semantic conventions:
//! a failover request yields the request's span (kind server) with the
//! `gen_ai.*` and `signalbox.*` attributes, and one child span (kind client)
//! per upstream attempt with its route, number and outcome, placed in the
//! request's timeline; no prompt or completion text is in any span.
//! Its own test binary: spans go through the process's global subscriber
//! and tracer provider, captured by an in-memory exporter.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use signalbox_mock::Faults;
use signalbox_testkit::{Harness, eventually};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const TWO_ROUTES: &str = r#"
providers:
  - name: primary
    kind: openai-compatible
    base-url: ${PRIMARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
  - name: secondary
    kind: openai-compatible
    base-url: ${SECONDARY_URL}
    timeouts: { connect: 500ms, first-byte: 2s, total: 10s }
routes:
  - id: primary-route
    provider: primary
    model: upstream-model-a
    region: us
  - id: secondary-route
    provider: secondary
    model: upstream-model-b
    region: eu
aliases:
  - name: chat
    routes: [primary-route, secondary-route]
"#;

/// Installs the exporter once per process, as the binary does with OTLP.
fn capture() -> InMemorySpanExporter {
    static EXPORTER: std::sync::OnceLock<InMemorySpanExporter> = std::sync::OnceLock::new();
    EXPORTER.get_or_init(install).clone()
}

fn install() -> InMemorySpanExporter {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer_with_scope(signalbox_gateway::trace_scope());
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .init();
    signalbox_gateway::enable_request_spans();
    exporter
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn text(span: &SpanData, key: &str) -> String {
    attr(span, key)
        .map(Value::as_str)
        .unwrap_or_default()
        .into_owned()
}

fn int(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(Value::I64(n)) => Some(*n),
        _ => None,
    }
}

fn all_text(span: &SpanData) -> String {
    let mut out = span.name.to_string();
    for KeyValue { key, value, .. } in &span.attributes {
        out.push_str(&format!(" {key}={value}"));
    }
    out
}

/// The request's span (by its gateway request id) and its attempt spans,
/// in attempt order, once the request's span has ended.
async fn spans_of(exporter: &InMemorySpanExporter, resp: &reqwest::Response) -> Vec<SpanData> {
    let request_id = resp.headers()["x-signalbox-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let ours = |s: &SpanData| text(s, "signalbox.request_id") == request_id;
    // The request's span ends when its context drops, just after the answer.
    let ended = eventually(Duration::from_secs(5), || {
        exporter
            .get_finished_spans()
            .is_ok_and(|spans| spans.iter().any(ours))
    })
    .await;
    assert!(ended, "the request's span was not exported");
    let spans = exporter.get_finished_spans().unwrap();
    let parent = spans.iter().find(|s| ours(s)).unwrap().clone();
    let mut children: Vec<SpanData> = spans
        .into_iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .collect();
    children.sort_by_key(|s| int(s, "signalbox.attempt"));
    let mut out = vec![parent];
    out.extend(children);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_fails_everywhere_is_an_error_span_with_failed_attempts() {
    let exporter = capture();
    let h = Harness::start(TWO_ROUTES, &["primary", "secondary"], &[]).await;
    for mock in ["primary", "secondary"] {
        h.mock(mock).set_faults(Faults {
            error_rate: 1.0,
            error_status: 503,
            ..Faults::default()
        });
    }
    let resp = h
        .chat(&json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(resp.status(), 502);
    let spans = spans_of(&exporter, &resp).await;
    let parent = &spans[0];
    assert_eq!(text(parent, "signalbox.outcome"), "failed");
    assert_eq!(text(parent, "error.type"), "upstream_failed");
    assert_eq!(int(parent, "http.response.status_code"), Some(502));
    assert!(matches!(parent.status, Status::Error { .. }));
    assert!(attr(parent, "gen_ai.response.model").is_none());
    assert_eq!(spans.len(), 3, "{spans:#?}");
    for child in &spans[1..] {
        assert_eq!(text(child, "error.type"), "server_error");
        assert!(matches!(child.status, Status::Error { .. }));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_request_yields_a_genai_span_with_one_child_per_attempt() {
    let exporter = capture();
    let h = Harness::start(TWO_ROUTES, &["primary", "secondary"], &[]).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let secret = "the launch code is swordfish";
    let resp = h
        .chat(&json!({
            "model": "chat",
            "messages": [{"role": "user", "content": secret}],
            "temperature": 0.25,
            "max_tokens": 64,
        }))
        .await;
    assert_eq!(resp.status(), 200);
    let spans = spans_of(&exporter, &resp).await;
    let parent = &spans[0];

    assert_eq!(parent.name, "chat chat");
    assert_eq!(parent.span_kind, SpanKind::Server);
    assert_eq!(
        parent.instrumentation_scope.schema_url(),
        Some(signalbox_gateway::SEMCONV_SCHEMA_URL)
    );
    for (key, want) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.request.model", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.response.model", "upstream-model-b"),
        ("signalbox.route", "secondary-route"),
        ("signalbox.provider", "secondary"),
        ("signalbox.tenant", "default"),
        ("signalbox.outcome", "served"),
    ] {
        assert_eq!(text(parent, key), want, "{key}: {}", all_text(parent));
    }
    assert!(!text(parent, "signalbox.policy_version").is_empty());
    assert_eq!(
        attr(parent, "gen_ai.request.temperature"),
        Some(&Value::F64(0.25))
    );
    assert_eq!(int(parent, "gen_ai.request.max_tokens"), Some(64));
    assert_eq!(int(parent, "signalbox.attempts"), Some(2));
    assert_eq!(text(parent, "signalbox.degraded_step"), "fallback-route");
    assert!(
        attr(parent, "signalbox.skipped").is_none(),
        "tried, not skipped"
    );
    assert_eq!(int(parent, "http.response.status_code"), Some(200));
    assert!(int(parent, "gen_ai.usage.input_tokens").is_some_and(|n| n > 0));
    assert!(int(parent, "gen_ai.usage.output_tokens").is_some_and(|n| n > 0));
    assert!(
        text(parent, "gen_ai.response.finish_reasons").contains("stop"),
        "{}",
        all_text(parent)
    );

    assert_eq!(spans.len(), 3, "{spans:#?}");
    let (first, second) = (&spans[1], &spans[2]);
    for (child, n, route, model) in [
        (first, 1, "primary-route", "upstream-model-a"),
        (second, 2, "secondary-route", "upstream-model-b"),
    ] {
        assert_eq!(child.span_kind, SpanKind::Client);
        assert_eq!(
            child.span_context.trace_id(),
            parent.span_context.trace_id()
        );
        assert_eq!(child.name, format!("chat {model}"));
        assert_eq!(int(child, "signalbox.attempt"), Some(n));
        assert_eq!(text(child, "signalbox.route"), route);
        assert_eq!(text(child, "gen_ai.request.model"), model);
        assert_eq!(text(child, "gen_ai.provider.name"), "openai");
        assert_eq!(text(child, "server.address"), "127.0.0.1");
        assert!(!text(child, "signalbox.breaker.state").is_empty());
        // Inside the request's span, in order.
        assert!(child.start_time >= parent.start_time);
        assert!(child.end_time <= parent.end_time);
    }
    assert!(first.end_time <= second.start_time);
    assert_eq!(text(first, "signalbox.attempt.outcome"), "server_error");
    assert_eq!(text(first, "error.type"), "server_error");
    assert_eq!(int(first, "http.response.status_code"), Some(503));
    assert!(matches!(first.status, Status::Error { .. }));
    assert_eq!(text(second, "signalbox.attempt.outcome"), "success");
    assert!(attr(second, "error.type").is_none());
    assert_eq!(second.status, Status::Unset);

    // No content in any span.
    for s in &spans {
        assert!(!all_text(s).contains("swordfish"), "{}", all_text(s));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_request_span_ends_with_its_stream() {
    let exporter = capture();
    let h = Harness::start(TWO_ROUTES, &["primary", "secondary"], &[]).await;
    let resp = h
        .chat(&json!({
            "model": "chat",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream the secret swordfish"}],
        }))
        .await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-signalbox-request-id"].clone();
    let body = resp.text().await.unwrap();
    assert!(body.contains("[DONE]"), "{body}");
    let ours = |s: &SpanData| text(s, "signalbox.request_id") == id.to_str().unwrap();
    let ended = eventually(Duration::from_secs(5), || {
        exporter
            .get_finished_spans()
            .is_ok_and(|spans| spans.iter().any(ours))
    })
    .await;
    assert!(ended, "the stream's request span was not exported");
    let spans = exporter.get_finished_spans().unwrap();
    let parent = spans.iter().find(|s| ours(s)).unwrap();
    assert_eq!(text(parent, "signalbox.stream"), "completed");
    assert_eq!(text(parent, "signalbox.outcome"), "served");
    assert!(int(parent, "gen_ai.usage.output_tokens").is_some_and(|n| n > 0));
    let attempts: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .collect();
    assert_eq!(attempts.len(), 1);
    assert_eq!(text(attempts[0], "signalbox.attempt.outcome"), "success");
    // The attempt ends at the stream's first event; the request at its end.
    assert!(attempts[0].end_time <= parent.end_time);
    for s in &spans {
        assert!(!all_text(s).contains("swordfish"), "{}", all_text(s));
    }
    h.stop().await;
}

/// Past five failures in a row the primary's circuit opens: the next
/// request's span names the skip (`route:kind`) and the degradation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_route_is_named_in_the_span() {
    let exporter = capture();
    let h = Harness::start(TWO_ROUTES, &["primary", "secondary"], &[]).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let body = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..5 {
        assert_eq!(h.chat(&body).await.status(), 200);
    }
    let resp = h.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let spans = spans_of(&exporter, &resp).await;
    let parent = &spans[0];
    assert_eq!(
        attr(parent, "signalbox.skipped"),
        Some(&Value::Array(opentelemetry::Array::String(vec![
            "primary-route:circuit_open".into()
        ]))),
        "{}",
        all_text(parent)
    );
    assert_eq!(text(parent, "signalbox.degraded_step"), "fallback-route");
    assert_eq!(int(parent, "signalbox.attempts"), Some(1));
    assert_eq!(spans.len(), 2, "one attempt: {spans:#?}");
    h.stop().await;
}
