//! OpenAI ingress, egress with quirks, Azure, responses, errors and streams.

use serde_json::json;
use signalbox_adapters::azure::AzureAdapter;
use signalbox_adapters::openai::{self, MaxTokensField, OpenAiAdapter, OpenAiQuirks};
use signalbox_adapters::{
    Adapter, ImageSource, NoteAction, Part, Retention, Role, StopReason, StreamEvent, ToolChoice,
    TranslateError, Usage,
};
use signalbox_core::OutcomeClass;

use crate::{body, decode, fixture, header, noted, render, route};

fn adapter(quirks: OpenAiQuirks) -> Adapter {
    Adapter::new(OpenAiAdapter {
        base_url: "https://api.example/v1/".into(),
        api_key: Some(signalbox_adapters::Secret::new("sk-test")),
        quirks,
    })
}

#[test]
fn parses_the_fixture_request() {
    let req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    assert_eq!(req.model, "chat-claude");
    assert_eq!(req.messages.len(), 5);
    assert_eq!(req.messages[0].role, Role::System);
    let Part::Image(img) = &req.messages[1].content[1] else {
        panic!("image expected")
    };
    assert_eq!(
        img.source,
        ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "iVBORw0KGgo=".into()
        }
    );
    assert_eq!(img.detail.as_deref(), Some("low"));
    assert!(matches!(&req.messages[2].content[..], [Part::ToolCall(c)] if c.id == "call_abc"));
    assert_eq!(req.messages[3].role, Role::Tool);
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.sampling.max_tokens, Some(300));
    assert_eq!(req.sampling.stop, vec!["END"]);
    assert!(req.stream && req.stream_usage);
    assert_eq!(req.user.as_deref(), Some("user-42"));
    assert_eq!(req.extra.get("logprobs"), Some(&json!(false)));
}

#[test]
fn bad_bodies_name_the_field() {
    let err =
        openai::parse_request(br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#)
            .unwrap_err();
    assert_eq!(err.param(), Some("messages[0].role"));
    let err = openai::parse_request(br#"{"messages":[]}"#).unwrap_err();
    assert_eq!(err.param(), Some("(body)"));
    assert!(
        openai::parse_request(b"{not json")
            .unwrap_err()
            .param()
            .is_none()
    );
}

#[test]
fn renders_for_openai_with_posture_and_passthrough() {
    let req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    let mut r = route("gpt-4o");
    r.retention = Retention::None;
    let out = render(&adapter(OpenAiQuirks::default()), &req, &r);
    assert_eq!(out.request.url, "https://api.example/v1/chat/completions");
    assert_eq!(header(&out, "authorization"), Some("Bearer sk-test"));
    assert!(format!("{:?}", out.request.headers).contains("Sensitive"));
    let b = body(&out);
    assert_eq!(b["model"], "gpt-4o");
    assert_eq!(b["store"], false);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
    assert_eq!(b["logprobs"], false, "OpenAI-dialect extras pass through");
    assert_eq!(
        b["messages"][1]["content"][1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    assert_eq!(
        b["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_abc", "content": "{\"temp_c\":18}"})
    );
    assert_eq!(b["max_tokens"], 300);
    assert_eq!(b["seed"], 7);
    assert!(out.notes.is_empty(), "{:?}", out.notes);
}

#[test]
fn quirks_translate_or_drop_with_notes() {
    let mut req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    req.tools.push(signalbox_adapters::Tool {
        name: "other".into(),
        description: None,
        parameters: json!({"type": "object"}),
        strict: None,
    });
    req.tool_choice = Some(ToolChoice::Tool("get_weather".into()));
    let quirks = OpenAiQuirks {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        stream_options: false,
        seed: false,
        tool_choice_object: false,
        ..OpenAiQuirks::default()
    };
    let mut r = route("llama");
    r.max_output_tokens = Some(100);
    let out = render(&adapter(quirks.clone()), &req, &r);
    let b = body(&out);
    assert_eq!(b["max_completion_tokens"], 100, "capped by the route");
    assert!(b.get("max_tokens").is_none() && b.get("seed").is_none());
    assert!(b.get("stream_options").is_none());
    assert_eq!(b["tool_choice"], "required");
    assert_eq!(b["tools"].as_array().unwrap().len(), 1);
    assert!(noted(&out.notes, "sampling.seed", NoteAction::Dropped));
    assert!(noted(&out.notes, "tool_choice", NoteAction::Translated));

    req.response_format = Some(signalbox_adapters::ResponseFormat::JsonSchema {
        name: "x".into(),
        description: None,
        schema: json!({"type": "object"}),
        strict: Some(true),
    });
    let strict = OpenAiQuirks {
        json_schema: false,
        ..quirks
    };
    let err = adapter(strict)
        .render(&req, &r, std::time::UNIX_EPOCH)
        .unwrap_err();
    assert!(
        matches!(err, TranslateError::Unsupported { ref field, .. } if field == "response_format.json_schema")
    );
}

#[test]
fn quirks_deserialise_from_config() {
    let q: OpenAiQuirks =
        serde_json::from_value(json!({"seed": false, "max-tokens-field": "max_completion_tokens"}))
            .unwrap();
    assert!(!q.seed && q.stream_options);
    assert_eq!(q.max_tokens_field, MaxTokensField::MaxCompletionTokens);
    assert!(serde_json::from_value::<OpenAiQuirks>(json!({"nope": 1})).is_err());
}

#[test]
fn azure_addresses_the_deployment() {
    let req =
        openai::parse_request(br#"{"model":"a","messages":[{"role":"user","content":"hi"}]}"#)
            .unwrap();
    let azure = Adapter::new(AzureAdapter {
        endpoint: "https://res.openai.azure.com".into(),
        api_version: "2024-10-21".into(),
        api_key: Some(signalbox_adapters::Secret::new("az-key")),
        quirks: OpenAiQuirks::default(),
    });
    let out = render(&azure, &req, &route("gpt-4o prod"));
    assert_eq!(
        out.request.url,
        "https://res.openai.azure.com/openai/deployments/gpt-4o%20prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(header(&out, "api-key"), Some("az-key"));
    assert!(header(&out, "authorization").is_none());
    let err = azure.parse_error(
        429,
        &Default::default(),
        br#"{"error":{"code":"429","message":"slow down"}}"#,
    );
    assert_eq!(
        (err.provider, err.class),
        ("azure", OutcomeClass::RateLimited)
    );
}

#[test]
fn parses_response_and_errors() {
    let resp =
        openai::parse_response(fixture("openai/response_tool_call.json").as_bytes()).unwrap();
    assert_eq!(resp.choices[0].stop_reason, StopReason::ToolCalls);
    assert!(
        matches!(&resp.choices[0].content[..], [Part::ToolCall(c)] if c.arguments == r#"{"location":"Paris"}"#)
    );
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 82,
            output_tokens: 17
        }
    );
    let err = openai::parse_error(429, fixture("openai/error_rate_limit.json").as_bytes());
    assert_eq!(err.class, OutcomeClass::RateLimited);
    assert_eq!(err.kind.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(
        openai::parse_error(400, b"<html>").class,
        OutcomeClass::RequestRejected
    );
    assert!(openai::parse_response(b"{\"choices\": 3}").is_err());
}

#[test]
fn rendered_response_reads_back_the_same() {
    let resp =
        openai::parse_response(fixture("openai/response_tool_call.json").as_bytes()).unwrap();
    let again = openai::parse_response(&openai::render_response(&resp, 1)).unwrap();
    assert_eq!(again, resp);
}

#[test]
fn decodes_the_fixture_stream() {
    let a = adapter(OpenAiQuirks::default());
    let events = decode(
        a.stream_decoder(),
        fixture("openai/stream_tool_call.sse").as_bytes(),
        &[],
    );
    assert_eq!(
        events.first(),
        Some(&StreamEvent::Start {
            id: "chatcmpl-9y".into(),
            model: "gpt-4o".into()
        })
    );
    assert_eq!(crate::tool_arguments(&events, 0), r#"{"location":"Paris"}"#);
    assert!(events.contains(&StreamEvent::Stop {
        choice: 0,
        reason: StopReason::ToolCalls
    }));
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Usage(Usage {
            input_tokens: 82,
            output_tokens: 17
        }))
    );
}

#[test]
fn stream_error_events_are_classified() {
    let a = adapter(OpenAiQuirks::default());
    let events = decode(
        a.stream_decoder(),
        b"data: {\"error\":{\"message\":\"busy\",\"type\":\"server_error\"}}\n\n",
        &[],
    );
    let [StreamEvent::Error { kind, message }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        a.classify_stream_error(kind, message).class,
        OutcomeClass::ServerError
    );
}
