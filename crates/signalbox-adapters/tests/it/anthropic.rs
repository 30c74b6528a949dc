//! Anthropic ingress, egress, responses, errors and streams.

use serde_json::json;
use signalbox_adapters::anthropic::{self, AnthropicAdapter};
use signalbox_adapters::{
    Adapter, ChatResponse, Choice, NoteAction, Part, ResponseFormat, Role, Secret, StopReason,
    StreamEvent, ToolCall, ToolChoice, TranslateError, Usage, openai,
};
use signalbox_core::OutcomeClass;

use crate::{body, decode, fixture, header, noted, render, route};

fn adapter() -> Adapter {
    Adapter::new(AnthropicAdapter {
        base_url: "http://127.0.0.1:9/".into(),
        api_key: Some(Secret::new("ak-test")),
    })
}

#[test]
fn parses_the_fixture_request() {
    let req = anthropic::parse_request(fixture("anthropic/request_tools.json").as_bytes()).unwrap();
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::User
        ]
    );
    assert!(
        matches!(&req.messages[2].content[1], Part::ToolCall(c) if c.arguments == r#"{"location":"Paris"}"#)
    );
    assert!(matches!(&req.messages[3].content[0], Part::ToolResult(r) if r.call_id == "toolu_01"));
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert_eq!(req.sampling.top_k, Some(40));
    assert_eq!(req.sampling.max_tokens, Some(1024));
    assert_eq!(req.user.as_deref(), Some("user-42"));
    assert!(noted(
        &req.notes,
        "system[0].cache_control",
        NoteAction::Dropped
    ));
}

#[test]
fn refuses_what_it_cannot_route() {
    let no_max = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    assert!(anthropic::parse_request(no_max).is_err());
    let server_tool = br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],
        "tools":[{"type":"web_search_20250305","name":"web_search","input_schema":{}}]}"#;
    let err = anthropic::parse_request(server_tool).unwrap_err();
    assert_eq!(err.param(), Some("tools[0].type"));
}

#[test]
fn renders_an_openai_request_for_anthropic() {
    let req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    let mut r = route("claude-sonnet-4");
    r.max_output_tokens = Some(200);
    let out = render(&adapter(), &req, &r);
    assert_eq!(out.request.url, "http://127.0.0.1:9/v1/messages");
    assert_eq!(header(&out, "x-api-key"), Some("ak-test"));
    assert_eq!(
        header(&out, "anthropic-version"),
        Some(anthropic::API_VERSION)
    );
    let b = body(&out);
    assert_eq!(b["system"], "You are a weather bot.");
    assert_eq!(b["max_tokens"], 200);
    assert_eq!(b["stop_sequences"], json!(["END"]));
    assert_eq!(b["stream"], true);
    assert_eq!(b["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(
        b["tools"][0]["input_schema"]["required"],
        json!(["location"])
    );
    let msgs = b["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "tool result merged with the next user turn");
    assert_eq!(
        msgs[0]["content"][1]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        msgs[1]["content"],
        json!([{"type": "tool_use", "id": "call_abc", "name": "get_weather", "input": {"location": "Paris"}}])
    );
    assert_eq!(
        msgs[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_abc", "content": "{\"temp_c\":18}"})
    );
    assert_eq!(
        msgs[2]["content"][1],
        json!({"type": "text", "text": "And tomorrow?"})
    );
    for (field, action) in [
        ("sampling.seed", NoteAction::Dropped),
        ("extra.logprobs", NoteAction::Dropped),
        ("messages[1].image.detail", NoteAction::Dropped),
    ] {
        assert!(noted(&out.notes, field, action), "{field}: {:?}", out.notes);
    }
}

#[test]
fn max_tokens_defaults_and_refusals() {
    let mut req = openai::parse_request(br#"{"model":"a","messages":[{"role":"user","content":"hi"}],"n":1,"temperature":1.5,"response_format":{"type":"json_object"}}"#).unwrap();
    let out = render(&adapter(), &req, &route("claude"));
    let b = body(&out);
    assert_eq!(b["max_tokens"], 4096);
    assert_eq!(b["temperature"], 1.0);
    assert!(b["system"].as_str().unwrap().contains("JSON"));
    assert!(noted(
        &out.notes,
        "sampling.max_tokens",
        NoteAction::Translated
    ));
    assert!(noted(
        &out.notes,
        "sampling.temperature",
        NoteAction::Translated
    ));
    assert!(noted(
        &out.notes,
        "response_format.json_object",
        NoteAction::Translated
    ));
    req.sampling.n = Some(2);
    let err = adapter()
        .render(&req, &route("c"), std::time::UNIX_EPOCH)
        .unwrap_err();
    assert!(matches!(
        &err,
        TranslateError::Unsupported {
            target: "anthropic",
            field,
            ..
        } if field == "n"
    ));
    // Named as the client wrote it, not by its canonical path.
    assert!(!err.to_string().contains("sampling."), "{err}");
    req.sampling.n = None;
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "s".into(),
        description: None,
        schema: json!({}),
        strict: None,
    });
    assert!(
        adapter()
            .render(&req, &route("c"), std::time::UNIX_EPOCH)
            .is_err()
    );
    req.response_format = None;
    req.messages.push(signalbox_adapters::Message {
        role: Role::Assistant,
        content: vec![Part::ToolCall(ToolCall {
            id: "1".into(),
            name: "f".into(),
            arguments: "[1".into(),
        })],
        name: None,
    });
    let err = adapter()
        .render(&req, &route("c"), std::time::UNIX_EPOCH)
        .unwrap_err();
    assert!(matches!(err, TranslateError::Invalid { .. }));
}

#[test]
fn parses_response_with_cache_tokens_counted_as_input() {
    let resp =
        anthropic::parse_response(fixture("anthropic/response_tool_use.json").as_bytes()).unwrap();
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 572,
            output_tokens: 91
        }
    );
    assert_eq!(resp.choices[0].stop_reason, StopReason::ToolCalls);
    assert_eq!(resp.provider_stop_reason.as_deref(), Some("tool_use"));
    let again = anthropic::parse_response(&anthropic::render_response(&resp)).unwrap();
    assert_eq!(again.choices, resp.choices);
}

#[test]
fn renders_a_response_for_anthropic_clients() {
    let resp = ChatResponse {
        id: "chatcmpl-1".into(),
        model: "chat-gpt".into(),
        choices: vec![Choice {
            index: 0,
            content: vec![Part::Text("hi".into())],
            stop_reason: StopReason::Length,
        }],
        usage: Usage {
            input_tokens: 3,
            output_tokens: 1,
        },
        provider_stop_reason: None,
    };
    let v: serde_json::Value = serde_json::from_slice(&anthropic::render_response(&resp)).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["content"], json!([{"type": "text", "text": "hi"}]));
    assert_eq!(v["usage"], json!({"input_tokens": 3, "output_tokens": 1}));
}

#[test]
fn classifies_errors() {
    let e = anthropic::parse_error(529, fixture("anthropic/error_overloaded.json").as_bytes());
    assert_eq!(
        (e.class, e.kind.as_deref()),
        (OutcomeClass::ServerError, Some("overloaded_error"))
    );
    assert_eq!(
        anthropic::parse_error(429, b"").class,
        OutcomeClass::RateLimited
    );
    assert_eq!(
        anthropic::parse_error(401, b"").class,
        OutcomeClass::AuthRejected
    );
    let mid = adapter().classify_stream_error("overloaded_error", "Overloaded");
    assert_eq!(mid.class, OutcomeClass::ServerError);
}

#[test]
fn decodes_the_fixture_stream() {
    let events = decode(
        adapter().stream_decoder(),
        fixture("anthropic/stream_tool_use.sse").as_bytes(),
        &[],
    );
    assert_eq!(
        events.first(),
        Some(&StreamEvent::Start {
            id: "msg_014p7gG3wDgGV9EUtLvnow3U".into(),
            model: "claude-sonnet-4-20250514".into()
        })
    );
    assert_eq!(crate::text(&events), "Okay, let's check the weather.");
    assert!(events.contains(&StreamEvent::ToolCallStart {
        choice: 0,
        index: 0,
        id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
        name: "get_weather".into()
    }));
    assert_eq!(
        crate::tool_arguments(&events, 0),
        r#"{"location": "Paris"}"#
    );
    assert_eq!(
        &events[events.len() - 2..],
        [
            StreamEvent::Stop {
                choice: 0,
                reason: StopReason::ToolCalls
            },
            StreamEvent::Usage(Usage {
                input_tokens: 472,
                output_tokens: 89
            }),
        ]
    );
}
