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

#[test]
fn a_responses_stream_opening_with_a_failure_fails_over_classified() {
    let scrubber = Arc::new(Scrubber::new(Vec::<String>::new()));
    for kind in [ProviderKind::OpenAiCompatible, ProviderKind::AzureOpenAi] {
        let up = HttpUpstream::new(&provider(kind), Arc::clone(&scrubber)).unwrap();
        let created = r#"{"type":"response.created","response":{"id":"r","output":[]}}"#;
        assert!(
            up.first_event_error(WireFormat::Responses, created)
                .is_none()
        );
        let limited = r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down"}"#;
        let e = up
            .first_event_error(WireFormat::Responses, limited)
            .unwrap();
        assert_eq!(e.class, OutcomeClass::RateLimited, "{e:?}");
        assert!(e.detail.contains("slow down"), "{}", e.detail);
        let failed = r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}"#;
        let e = up.first_event_error(WireFormat::Responses, failed).unwrap();
        assert!(e.class.fails_over(), "{e:?}");
        assert!(e.detail.contains("server_error"), "{}", e.detail);
    }
}
