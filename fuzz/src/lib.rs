//! Helpers shared by the fuzz targets: one adapter of each registered kind with fixed
//! fake credentials, route settings, a fixed clock, and chunking of inputs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signalbox_adapters::bedrock::AwsCredentials;
use signalbox_adapters::openai::{MaxTokensField, OpenAiAdapter, OpenAiQuirks};
use signalbox_adapters::{
    Adapter, AwsEndpoint, ChatRequest, ChatResponse, ContentFilter, Endpoint, Retention,
    RouteSettings, Secret, format_of,
};
use signalbox_core::ProviderKind;

/// A fixed signing time (2023-11-14T22:13:20Z), so runs are reproducible.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// OpenAI-compatible quirks with every optional field refused.
fn strict_quirks() -> OpenAiQuirks {
    OpenAiQuirks {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        stream_options: false,
        seed: false,
        tool_choice_object: false,
        parallel_tool_calls: false,
        store: false,
        json_schema: false,
        user: false,
        metadata: false,
    }
}

/// Two OpenAI flavours, then one adapter of every other registered kind
/// (`signalbox_core::provider_kinds!`), with fake credentials: a new kind is
/// fuzzed without touching this file.
pub fn adapters() -> Vec<Adapter> {
    let mut out = vec![
        Adapter::new(OpenAiAdapter {
            base_url: "https://api.openai.example/v1".to_owned(),
            api_key: Some(Secret::new("sk-fuzz-0000")),
            quirks: OpenAiQuirks::default(),
        }),
        Adapter::new(OpenAiAdapter {
            base_url: "http://127.0.0.1:8000/v1/".to_owned(),
            api_key: None,
            quirks: strict_quirks(),
        }),
    ];
    let endpoint = Endpoint {
        base_url: "https://fuzz.provider.example".to_owned(),
        api_key: Some(Secret::new("fuzz-key-0000")),
        api_version: None,
        quirks: OpenAiQuirks::default(),
        aws: Some(AwsEndpoint {
            region: "us-east-1".to_owned(),
            credentials: AwsCredentials {
                access_key_id: "AKIAFUZZFUZZFUZZFUZZ".to_owned(),
                secret_access_key: Secret::new("fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"),
                session_token: Some(Secret::new("fuzz-session-token")),
            },
        }),
    };
    // OpenAI-compatible without quirks has no adapter (forwarded verbatim).
    out.extend(
        ProviderKind::ALL
            .iter()
            .filter_map(|kind| format_of(*kind).adapter(&endpoint)),
    );
    out
}

/// The routes every request is rendered for: provider defaults, and a route
/// with an output cap, no retention and the strictest content filter.
pub fn routes() -> Vec<RouteSettings> {
    let mut strict = RouteSettings::new("vendor/model:v1@2024 ünïcode");
    strict.max_output_tokens = Some(64);
    strict.retention = Retention::None;
    strict.content_filter = Some(ContentFilter::High);
    vec![RouteSettings::new("m"), strict]
}

/// Renders `req` with every adapter for every route; errors are fine, panics are not.
pub fn render_all(req: &ChatRequest) {
    let adapters = adapters();
    for route in routes() {
        for adapter in &adapters {
            if let Ok(rendered) = adapter.render(req, &route, now()) {
                std::hint::black_box(&rendered.request.body);
                std::hint::black_box(format!("{:?}", rendered.notes));
            }
        }
    }
}

/// Renders a parsed upstream answer back to both client formats.
pub fn render_response(resp: &ChatResponse) {
    std::hint::black_box(signalbox_adapters::openai::render_response(resp, 1_700_000_000));
    std::hint::black_box(signalbox_adapters::anthropic::render_response(resp));
}

/// Splits `data` into chunk sizes and payload: `data[0] % 8` size bytes
/// follow (each a chunk size of `byte + 1`, used in turn); the rest is the
/// payload. With no size bytes the payload is fed whole.
pub fn chunk_plan(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = usize::from(n % 8).min(rest.len());
    let (sizes, payload) = rest.split_at(n);
    (sizes.iter().map(|&b| usize::from(b) + 1).collect(), payload)
}

/// Iterates `payload` in chunks whose sizes cycle through `sizes`.
pub fn chunks<'a>(sizes: &'a [usize], payload: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = payload;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if sizes.is_empty() { rest.len() } else { sizes[i % sizes.len()] };
        i += 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}
