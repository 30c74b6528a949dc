//! Gemini egress, responses, errors and streams.

use serde_json::json;
use signalbox_adapters::gemini::{self, GeminiAdapter};
use signalbox_adapters::{
    Adapter, ContentFilter, NoteAction, Part, Secret, StopReason, StreamEvent, ToolChoice,
    TranslateError, Usage, openai,
};
use signalbox_core::OutcomeClass;

use crate::{body, decode, fixture, header, noted, render, route};

fn adapter() -> Adapter {
    Adapter::new(GeminiAdapter {
        base_url: "https://generativelanguage.googleapis.com".into(),
        api_version: "v1beta".into(),
        api_key: Some(Secret::new("g-key")),
    })
}

#[test]
fn renders_an_openai_request_for_gemini() {
    let mut req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    req.tool_choice = Some(ToolChoice::Tool("get_weather".into()));
    let mut r = route("gemini-2.5-flash");
    r.content_filter = Some(ContentFilter::Medium);
    let out = render(&adapter(), &req, &r);
    assert_eq!(
        out.request.url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(header(&out, "x-goog-api-key"), Some("g-key"));
    let b = body(&out);
    assert_eq!(
        b["systemInstruction"],
        json!({"parts": [{"text": "You are a weather bot."}]})
    );
    let contents = b["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["user", "model", "user"],
        "tool result and next user turn merged"
    );
    assert_eq!(
        contents[0]["parts"][1],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        contents[1]["parts"][0]["functionCall"]["args"],
        json!({"location": "Paris"})
    );
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"],
        json!({"id": "call_abc", "name": "get_weather", "response": {"temp_c": 18}})
    );
    let decl = &b["tools"][0]["functionDeclarations"][0];
    assert!(decl["parameters"].get("additionalProperties").is_none());
    assert!(noted(
        &out.notes,
        "tools.get_weather.parameters",
        NoteAction::Translated
    ));
    assert_eq!(
        b["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    assert_eq!(b["generationConfig"]["maxOutputTokens"], 300);
    assert_eq!(b["generationConfig"]["seed"], 7);
    assert_eq!(b["generationConfig"]["stopSequences"], json!(["END"]));
    let safety = b["safetySettings"].as_array().unwrap();
    assert_eq!(safety.len(), 4);
    assert!(
        safety
            .iter()
            .all(|s| s["threshold"] == "BLOCK_MEDIUM_AND_ABOVE")
    );
    assert!(noted(&out.notes, "user", NoteAction::Dropped));
    assert!(noted(&out.notes, "extra.logprobs", NoteAction::Dropped));
}

#[test]
fn refuses_web_images_and_orphan_tool_results() {
    let web = openai::parse_request(br#"{"model":"a","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/cat.png"}}]}]}"#).unwrap();
    let err = adapter()
        .render(&web, &route("g"), std::time::UNIX_EPOCH)
        .unwrap_err();
    assert!(matches!(
        err,
        TranslateError::Unsupported {
            target: "gemini",
            ..
        }
    ));
    let orphan = openai::parse_request(
        br#"{"model":"a","messages":[{"role":"tool","tool_call_id":"zz","content":"1"}]}"#,
    )
    .unwrap();
    let err = adapter()
        .render(&orphan, &route("g"), std::time::UNIX_EPOCH)
        .unwrap_err();
    assert!(matches!(err, TranslateError::Invalid { .. }));
    let schema_ref = openai::parse_request(br##"{"model":"a","messages":[{"role":"user","content":"x"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"$ref":"#/$defs/a"}}}}"##).unwrap();
    assert!(
        adapter()
            .render(&schema_ref, &route("g"), std::time::UNIX_EPOCH)
            .is_err()
    );
}

#[test]
fn json_schema_becomes_response_schema() {
    let req = openai::parse_request(br#"{"model":"a","stream":false,"messages":[{"role":"user","content":"x"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"n":{"type":["integer","null"]}}}}}}"#).unwrap();
    let out = render(&adapter(), &req, &route("g"));
    assert!(out.request.url.ends_with(":generateContent"));
    let g = &body(&out)["generationConfig"];
    assert_eq!(g["responseMimeType"], "application/json");
    assert_eq!(
        g["responseSchema"]["properties"]["n"],
        json!({"type": "integer", "nullable": true})
    );
}

#[test]
fn parses_function_call_response() {
    let resp =
        gemini::parse_response(fixture("gemini/response_function_call.json").as_bytes()).unwrap();
    assert_eq!(resp.id, "resp-gem-1");
    assert_eq!(resp.choices[0].stop_reason, StopReason::ToolCalls);
    assert!(
        matches!(&resp.choices[0].content[..], [Part::ToolCall(c)] if c.id == "call_0" && c.name == "get_weather")
    );
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 45,
            output_tokens: 15
        }
    );
    let blocked =
        gemini::parse_response(br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#).unwrap();
    assert_eq!(blocked.choices[0].stop_reason, StopReason::ContentFilter);
}

#[test]
fn classifies_errors() {
    let e = gemini::parse_error(429, fixture("gemini/error_rate_limit.json").as_bytes());
    assert_eq!(
        (e.class, e.kind.as_deref()),
        (OutcomeClass::RateLimited, Some("RESOURCE_EXHAUSTED"))
    );
    let bad_key = br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#;
    assert_eq!(
        gemini::parse_error(400, bad_key).class,
        OutcomeClass::AuthRejected
    );
    assert_eq!(
        gemini::parse_error(503, b"").class,
        OutcomeClass::ServerError
    );
}

#[test]
fn decodes_the_fixture_stream() {
    let events = decode(
        adapter().stream_decoder(),
        fixture("gemini/stream_text.sse").as_bytes(),
        &[],
    );
    assert_eq!(
        events[0],
        StreamEvent::Start {
            id: "resp-gem-2".into(),
            model: "gemini-2.0-flash".into()
        }
    );
    assert_eq!(crate::text(&events), "The weather in Paris is mild.");
    assert_eq!(
        &events[events.len() - 2..],
        [
            StreamEvent::Stop {
                choice: 0,
                reason: StopReason::Length
            },
            StreamEvent::Usage(Usage {
                input_tokens: 9,
                output_tokens: 10
            }),
        ]
    );
}
