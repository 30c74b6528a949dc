//! Owns log and trace setup: structured logs on stderr (text or JSON,
//! filtered by `RUST_LOG`), and — when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set — OpenTelemetry spans
//! exported over OTLP/HTTP (protobuf) with W3C trace-context propagation.
//! The exporter follows the standard `OTEL_*` variables (service name,
//! headers, batch delays).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flushes exported spans when dropped (at process exit).
#[derive(Debug, Default)]
pub struct Guard(Option<SdkTracerProvider>);

impl Guard {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: flushing OpenTelemetry spans failed: {e}");
        }
    }
}

/// Installs the global subscriber. `default` applies when `RUST_LOG` is unset.
pub fn init(format: Format, default: &str) -> Guard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let (otel, guard) = match otlp_provider() {
        Some(Ok(provider)) => {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            // The gateway's attempt spans come from the global provider.
            opentelemetry::global::set_tracer_provider(provider.clone());
            let tracer = provider.tracer_with_scope(signalbox_gateway::trace_scope());
            (
                Some(tracing_opentelemetry::layer().with_tracer(tracer)),
                Guard(Some(provider)),
            )
        }
        Some(Err(e)) => {
            eprintln!("warning: OpenTelemetry export disabled: {e}");
            (None, Guard::default())
        }
        None => (None, Guard::default()),
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let _ = match format {
        Format::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        Format::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    guard
}

/// The OTLP/HTTP span exporter, when an endpoint is configured.
fn otlp_provider() -> Option<Result<SdkTracerProvider, String>> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !configured {
        return None;
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string());
    Some(exporter.map(|exporter| {
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(
                        std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "signalbox".into()),
                    )
                    .build(),
            )
            .build()
    }))
}
