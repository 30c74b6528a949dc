//! Building an upstream client from its configuration.

use signalbox_config::{DEFAULT_MAX_STREAM_EVENT_BYTES, ProviderConfig, ProviderKind};
use signalbox_core::ProviderName;

use super::*;

fn provider(kind: ProviderKind) -> ProviderConfig {
    ProviderConfig {
        name: ProviderName::new("p"),
        kind,
        base_url: "http://127.0.0.1:9".into(),
        api_key: None,
        api_version: None,
        aws: None,
        quirks: Default::default(),
        headers: Vec::new(),
        timeouts: Timeouts::default(),
        max_stream_event_bytes: DEFAULT_MAX_STREAM_EVENT_BYTES,
    }
}

#[test]
fn a_kind_without_what_its_adapter_needs_is_refused_at_load() {
    let scrubber = Arc::new(Scrubber::new(Vec::<String>::new()));
    let e = HttpUpstream::new(&provider(ProviderKind::Bedrock), Arc::clone(&scrubber))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("provider p: HTTP client: bedrock provider without AWS credentials")
    );
    // The OpenAI-compatible kind forwards untranslated: no adapter needed.
    assert!(HttpUpstream::new(&provider(ProviderKind::OpenAiCompatible), scrubber).is_ok());
}
