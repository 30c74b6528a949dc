use serde_json::json;

use super::*;

fn body() -> Value {
    json!({
        "model": "claude-alias",
        "max_tokens": 1024,
        "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 512},
        "output_config": {"effort": "low"},
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
            {"type": "text", "text": "summarise", "cache_control": {"type": "ephemeral"}}
        ]}]
    })
}

#[test]
fn the_clients_body_is_kept_whole_and_the_canonical_request_skips_what_it_cannot_carry() {
    let raw = body().to_string();
    let ing = parse_ingress(raw.as_bytes(), Some("b1".into())).unwrap();
    assert_eq!(Value::Object(ing.origin.native.body.clone()), body());
    assert_eq!(ing.origin.native.beta.as_deref(), Some("b1"));
    assert_eq!(ing.origin.native.format, WireFormat::Anthropic);
    let why = ing.origin.untranslatable.unwrap();
    assert!(
        why.starts_with("messages[0].content[0]: content type `document`"),
        "{why}"
    );
    assert_eq!(
        ing.canonical.messages.len(),
        2,
        "{:?}",
        ing.canonical.messages
    );
    assert_eq!(ing.canonical.sampling.top_k, Some(5));
}

#[test]
fn a_block_inside_a_tool_result_is_found_too() {
    let mut b = body();
    b["messages"] = json!([{"role": "user", "content": [{"type": "tool_result",
        "tool_use_id": "t", "content": [{"type": "text", "text": "x"},
        {"type": "search_result", "source": "s", "title": "t", "content": []}]}]}]);
    let ing = parse_ingress(b.to_string().as_bytes(), None).unwrap();
    let why = ing.origin.untranslatable.unwrap();
    assert!(
        why.starts_with("messages[0].content[0].content[1]: content type `search_result`"),
        "{why}"
    );
}

#[test]
fn a_translatable_body_has_nothing_to_report_and_errors_name_the_field() {
    let b = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let ing = parse_ingress(b.to_string().as_bytes(), None).unwrap();
    assert!(ing.origin.untranslatable.is_none());
    let bad = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let err = parse_ingress(bad.to_string().as_bytes(), None).unwrap_err();
    assert!(err.to_string().contains("max_tokens"), "{err}");
    assert!(matches!(
        parse_ingress(b"{", None),
        Err(RequestError::Syntax(_))
    ));
}

#[test]
fn forwarding_sends_the_body_with_versions_key_and_beta() {
    let a = AnthropicAdapter {
        base_url: "https://api.anthropic.com/".into(),
        api_key: Some(signalbox_core::Secret::new("sk-ant-x")),
    };
    let r = a
        .forward(b"{}".to_vec(), true, Some("prompt-caching-2024-07-31"))
        .unwrap();
    assert_eq!(r.url, "https://api.anthropic.com/v1/messages");
    assert_eq!(r.headers["anthropic-beta"], "prompt-caching-2024-07-31");
    assert_eq!(r.headers["anthropic-version"], API_VERSION);
    assert!(r.headers["x-api-key"].is_sensitive());
    assert!(r.stream);
}

#[test]
fn usage_is_read_from_messages_and_stream_events() {
    let msg = br#"{"type":"message","content":[],"usage":{"input_tokens":7,"output_tokens":3,
        "cache_creation_input_tokens":10,"cache_read_input_tokens":100}}"#;
    assert_eq!(
        usage_of_message(msg).unwrap(),
        Some(Usage {
            prompt_tokens: 117,
            completion_tokens: 3
        })
    );
    assert!(usage_of_message(b"[]").is_err());
    assert_eq!(
        error_event(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        ),
        Some(("overloaded_error".into(), "Overloaded".into()))
    );
    assert_eq!(
        error_event(r#"{"type":"message_start","message":{}}"#),
        None
    );
    let mut u = Usage::default();
    assert!(usage_of_event(
        r#"{"type":"message_start","message":{"usage":{"input_tokens":9,"output_tokens":1}}}"#,
        &mut u
    ));
    assert!(!usage_of_event(r#"{"type":"ping"}"#, &mut u));
    assert!(usage_of_event(
        r#"{"type":"message_delta","usage":{"output_tokens":4}}"#,
        &mut u
    ));
    assert_eq!(
        u,
        Usage {
            prompt_tokens: 9,
            completion_tokens: 4
        }
    );
}

#[test]
fn a_server_tool_is_kept_for_anthropic_and_named_for_everyone_else() {
    let b = json!({"model": "m", "max_tokens": 5,
        "messages": [{"role": "user", "content": "search"}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}},
                  {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}]});
    let ing = parse_ingress(b.to_string().as_bytes(), None).unwrap();
    let why = ing.origin.untranslatable.unwrap();
    assert!(
        why.starts_with("tools[1].type: server tool `web_search_20250305`"),
        "{why}"
    );
    assert_eq!(ing.canonical.tools.len(), 1);
    assert_eq!(Value::Object(ing.origin.native.body), b);
}
