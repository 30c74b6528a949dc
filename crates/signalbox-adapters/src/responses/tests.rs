//! The Responses format: requests read (and refused) naming fields, and
//! answers written as the API documents them.

use serde_json::{Value, json};

use super::*;
use crate::canonical::{
    ChatResponse, Choice, Part, ResponseFormat, Role, StopReason, StreamEvent, ToolCall, Usage,
};

fn parse(body: Value) -> Result<crate::ChatRequest, signalbox_core::RequestError> {
    parse_request(body.to_string().as_bytes())
}

#[test]
fn a_conversation_with_tools_and_their_outputs_is_read_in_order() {
    let req = parse(json!({
        "model": "chat",
        "instructions": "be brief",
        "input": [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "4°C"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}
        ],
        "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}],
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        "max_output_tokens": 50,
        "reasoning": {"effort": "low"},
        "stream": true
    }))
    .unwrap();
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
        matches!(&req.messages[2].content[0], Part::ToolCall(ToolCall { id, .. }) if id == "c1")
    );
    assert_eq!(req.tools[0].name, "weather");
    assert!(matches!(
        req.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
    assert_eq!(req.sampling.max_tokens, Some(50));
    assert!(req.stream && req.stream_usage);
    // The effort is carried (as the chat APIs' `reasoning_effort`), noted.
    assert_eq!(req.reasoning, Some(crate::canonical::ReasoningEffort::Low));
    assert_eq!(req.notes.len(), 1);
    assert_eq!(req.notes[0].field, "reasoning.effort");
    assert_eq!(req.notes[0].action, crate::NoteAction::Translated);
}

#[test]
fn what_reasoning_asks_beyond_a_known_effort_is_dropped_with_a_note() {
    let req = parse(json!({
        "model": "m", "input": "hi",
        "reasoning": {"effort": "minimal", "summary": "auto"}
    }))
    .unwrap();
    assert_eq!(req.reasoning, None);
    let notes: Vec<(&str, crate::NoteAction)> = req
        .notes
        .iter()
        .map(|n| (n.field.as_str(), n.action))
        .collect();
    assert!(notes.contains(&("reasoning.summary", crate::NoteAction::Dropped)));
    assert!(notes.contains(&("reasoning.effort", crate::NoteAction::Dropped)));
    let err = parse(json!({"model": "m", "input": "hi", "reasoning": "high"})).unwrap_err();
    assert!(err.to_string().contains("reasoning"), "{err}");
}

#[test]
fn what_needs_stored_state_or_a_built_in_tool_is_refused_naming_the_field() {
    for (body, field) in [
        (
            json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"model": "m", "input": "hi", "tools": [{"type": "web_search_preview"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}),
            "input[0].type",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
            "input[0].content[0].type",
        ),
        (
            json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
            "input[0].role",
        ),
        (json!({"model": "m"}), "input"),
        (json!({"input": "hi"}), "model"),
        (
            json!({"model": "m", "input": "hi", "max_output_tokens": -1}),
            "max_output_tokens",
        ),
    ] {
        let err = parse(body.clone()).unwrap_err();
        assert_eq!(err.param(), Some(field), "{body}: {err}");
    }
    assert!(matches!(
        parse_request(b"{nope"),
        Err(signalbox_core::RequestError::Syntax(_))
    ));
}

fn answer(parts: Vec<Part>, reason: StopReason) -> ChatResponse {
    ChatResponse {
        id: "abc".into(),
        model: "m1".into(),
        choices: vec![Choice {
            index: 0,
            content: parts,
            stop_reason: reason,
        }],
        usage: Usage {
            input_tokens: 3,
            output_tokens: 4,
        },
        provider_stop_reason: None,
    }
}

#[test]
fn an_answer_is_a_response_object_with_items_and_usage() {
    let call = ToolCall {
        id: "c9".into(),
        name: "f".into(),
        arguments: "{}".into(),
    };
    let out = render_response(
        &answer(
            vec![Part::Text("hi".into()), Part::ToolCall(call)],
            StopReason::ToolCalls,
        ),
        7,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(v["id"], "resp_abc");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["text"], "hi");
    assert_eq!(v["output"][1]["type"], "function_call");
    assert_eq!(v["output"][1]["call_id"], "c9");
    assert_eq!(v["usage"]["total_tokens"], 7);

    let out = render_response(
        &answer(vec![Part::Text("cut".into())], StopReason::Length),
        7,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
}

/// Every event's (name, data), in order.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

#[test]
fn a_stream_is_the_documented_event_sequence_ending_with_the_whole_response() {
    let mut enc = SseEncoder::new(7);
    let mut out = Vec::new();
    for e in [
        StreamEvent::Start {
            id: "abc".into(),
            model: "m1".into(),
        },
        StreamEvent::TextDelta {
            choice: 0,
            text: "he".into(),
        },
        StreamEvent::TextDelta {
            choice: 0,
            text: "llo".into(),
        },
        StreamEvent::ToolCallStart {
            choice: 0,
            index: 0,
            id: "c1".into(),
            name: "f".into(),
        },
        StreamEvent::ToolCallDelta {
            choice: 0,
            index: 0,
            arguments: "{\"a\":".into(),
        },
        StreamEvent::ToolCallDelta {
            choice: 0,
            index: 0,
            arguments: "1}".into(),
        },
        StreamEvent::Stop {
            choice: 0,
            reason: StopReason::ToolCalls,
        },
        StreamEvent::Usage(Usage {
            input_tokens: 2,
            output_tokens: 5,
        }),
    ] {
        out.extend(enc.encode(&e));
    }
    out.extend(enc.finish());
    let evs = events(&out);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let seq: Vec<u64> = evs
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seq, (0..15).collect::<Vec<_>>());
    let (_, done) = &evs[14];
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], "hello");
    assert_eq!(done["response"]["output"][1]["arguments"], "{\"a\":1}");
    assert_eq!(done["response"]["usage"]["output_tokens"], 5);
    // Nothing more after the end.
    assert!(enc.finish().is_empty());
}

#[test]
fn only_a_passthrough_carries_built_in_tools_and_files_which_are_named_not_refused() {
    let body = json!({"model": "m", "tools": [
            {"type": "function", "name": "f", "parameters": {"type": "object"}},
            {"type": "web_search_preview"}],
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"},
                {"type": "input_file", "file_id": "file_1"}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"}]});
    let ingress = crate::responses::parse_ingress(body.to_string().as_bytes()).unwrap();
    let why = ingress.untranslatable.unwrap();
    assert!(
        why.starts_with("tools[1].type: built-in tool `web_search_preview`"),
        "{why}"
    );
    // The canonical request keeps what the chat APIs can carry; the body all.
    assert_eq!(ingress.canonical.tools.len(), 1);
    assert_eq!(ingress.canonical.messages.len(), 1);
    assert_eq!(ingress.canonical.messages[0].content.len(), 1);
    assert_eq!(Value::Object(ingress.body), body);
    // Stored state and unknown types stay refused, naming the field.
    for (body, field) in [
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}),
            "input[0].type",
        ),
        (
            json!({"model": "m", "input": [{"type": "nonsense"}]}),
            "input[0].type",
        ),
        (
            json!({"model": "m", "input": "hi", "tools": [{"type": "teleport"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "input": "hi", "previous_response_id": "r"}),
            "previous_response_id",
        ),
    ] {
        let err = crate::responses::parse_ingress(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.param(), Some(field), "{body}: {err}");
    }
}
