//! Building an upstream client from its configuration.

use signalbox_config::{DEFAULT_MAX_STREAM_EVENT_BYTES, ProviderConfig, ProviderKind};
use signalbox_core::{OutcomeClass, ProviderName};

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

#[test]
fn the_answer_model_is_found_in_place_or_not_at_all() {
    let body = Bytes::from_static(br#"{"id":"x","model":"gpt-4o-2024-11-20","choices":[]}"#);
    let shape: ResponseShape<'_> = serde_json::from_slice(&body).unwrap();
    let model = model_at(&body, &shape.model);
    let json = ChatJson {
        body: body.clone(),
        usage: None,
        format: WireFormat::OpenAi,
        model,
    };
    assert_eq!(json.answer_model(), Some("gpt-4o-2024-11-20"));
    // An escaped name is not in the body as is: unknown rather than copied.
    let escaped = Bytes::from_static(br#"{"model":"a\u002db","choices":[]}"#);
    let shape: ResponseShape<'_> = serde_json::from_slice(&escaped).unwrap();
    assert_eq!(model_at(&escaped, &shape.model), AnswerModel::Unknown);
    for odd in [
        &br#"{"model":null,"choices":[]}"#[..],
        br#"{"model":7,"choices":[]}"#,
    ] {
        let shape: Result<ResponseShape<'_>, _> = serde_json::from_slice(odd);
        assert!(
            shape.is_ok_and(|s| s.model.0.is_none()),
            "a model that is no name"
        );
    }
    let named = ChatJson {
        model: AnswerModel::Named("claude-x".into()),
        ..json
    };
    assert_eq!(named.answer_model(), Some("claude-x"));
}

#[test]
fn an_anthropic_message_names_its_model_before_its_content() {
    let body = Bytes::from_static(
        br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x-2026","content":[{"type":"tool_use","input":{"model":"not-this"}}]}"#,
    );
    let json = passthrough::native_json(body).unwrap();
    assert_eq!(json.answer_model(), Some("claude-x-2026"));
    let late = Bytes::from_static(
        br#"{"content":[{"type":"tool_use","input":{"model":"not-this"}}],"model":"m"}"#,
    );
    let json = passthrough::native_json(late).unwrap();
    assert_eq!(json.answer_model(), None, "only before the content");
}

#[test]
fn the_host_header_names_a_non_default_port_only() {
    let host = |url: &str| host_header(&url.parse().unwrap()).unwrap();
    assert_eq!(
        host("http://127.0.0.1:8080/v1/chat/completions"),
        "127.0.0.1:8080"
    );
    assert_eq!(host("http://api.example.com:80/v1"), "api.example.com");
    assert_eq!(host("https://api.example.com/v1"), "api.example.com");
    assert_eq!(
        host("https://api.example.com:8443/v1"),
        "api.example.com:8443"
    );
    assert_eq!(host("http://[::1]:9000/v1"), "[::1]:9000");
}
