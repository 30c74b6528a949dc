//! Unit tests of the Cohere adapter against fixtures shaped like Cohere's
//! API reference examples (`fixtures/`), and of its mock side.

use std::time::SystemTime;

use http::HeaderMap;
use serde_json::Value;
use signalbox_core::OutcomeClass;

use super::{CohereAdapter, EventDecoder, parse_error, parse_response};
use crate::adapter::{Adapter, ProviderFormat, StreamDecoder};
use crate::canonical::{Part, StopReason, StreamEvent, Usage};
use crate::route::{ContentFilter, RouteSettings, Secret};

fn adapter() -> Adapter {
    Adapter::new(CohereAdapter {
        base_url: "https://api.cohere.com/".into(),
        api_key: Some(Secret::new("co-key")),
    })
}

fn route() -> RouteSettings {
    RouteSettings {
        content_filter: Some(ContentFilter::Medium),
        embedding: None,
        ..RouteSettings::new("command-a-03-2025")
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn renders_the_v2_chat_request() {
    let req = crate::openai::parse_request(include_bytes!("fixtures/openai_request.json")).unwrap();
    let rendered = adapter()
        .render(&req, &route(), SystemTime::UNIX_EPOCH)
        .unwrap();
    let r = &rendered.request;
    assert_eq!(r.url, "https://api.cohere.com/v2/chat");
    assert_eq!(r.headers["authorization"], "Bearer co-key");
    assert!(r.headers["authorization"].is_sensitive());
    assert_eq!(json(&r.body), json(include_bytes!("fixtures/request.json")));
    let notes: Vec<String> = rendered.notes.iter().map(ToString::to_string).collect();
    assert!(
        notes.iter().any(|n| n.starts_with("user dropped")),
        "{notes:?}"
    );
}

#[test]
fn a_named_tool_choice_offers_only_that_tool() {
    let mut req =
        crate::openai::parse_request(include_bytes!("fixtures/openai_request.json")).unwrap();
    req.tools.push(crate::canonical::Tool {
        name: "other".into(),
        description: None,
        parameters: serde_json::json!({"type": "object"}),
        strict: None,
    });
    req.tool_choice = Some(crate::canonical::ToolChoice::Tool("get_weather".into()));
    let rendered = adapter()
        .render(&req, &route(), SystemTime::UNIX_EPOCH)
        .unwrap();
    let body = json(&rendered.request.body);
    assert_eq!(body["tool_choice"], "REQUIRED");
    assert_eq!(body["tools"].as_array().unwrap().len(), 1);
    assert!(rendered.notes.iter().any(|n| n.field == "tool_choice"));
}

#[test]
fn images_and_several_answers_are_refused_not_dropped() {
    let body = br#"{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}"#;
    let req = crate::openai::parse_request(body).unwrap();
    assert!(
        adapter()
            .render(&req, &route(), SystemTime::UNIX_EPOCH)
            .is_err()
    );
    let body = br#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#;
    let req = crate::openai::parse_request(body).unwrap();
    assert!(
        adapter()
            .render(&req, &route(), SystemTime::UNIX_EPOCH)
            .is_err()
    );
}

#[test]
fn reads_a_text_answer_with_billed_usage() {
    let r = parse_response(include_bytes!("fixtures/response_text.json")).unwrap();
    assert_eq!(r.text(), "Coca-Cola is a carbonated soft drink.");
    assert_eq!(r.choices[0].stop_reason, StopReason::Stop);
    assert_eq!(r.provider_stop_reason.as_deref(), Some("COMPLETE"));
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 21,
            output_tokens: 9
        }
    );
}

#[test]
fn reads_a_tool_call_answer() {
    let r = parse_response(include_bytes!("fixtures/response_tool.json")).unwrap();
    assert_eq!(r.choices[0].stop_reason, StopReason::ToolCalls);
    let Part::ToolCall(call) = &r.choices[0].content[0] else {
        unreachable!("{r:?}")
    };
    assert_eq!(call.id, "get_weather_nsz5zm3w56q3");
    assert_eq!(call.name, "get_weather");
    assert_eq!(call.arguments, r#"{"location":"Toronto"}"#);
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    for (reason, want) in [
        ("COMPLETE", StopReason::Stop),
        ("STOP_SEQUENCE", StopReason::Stop),
        ("MAX_TOKENS", StopReason::Length),
        ("TOOL_CALL", StopReason::ToolCalls),
        ("tool_call", StopReason::ToolCalls),
        ("ERROR", StopReason::Other),
    ] {
        assert_eq!(super::response::stop_reason(reason), want, "{reason}");
    }
}

#[test]
fn errors_are_classified_by_status() {
    let e = parse_error(429, include_bytes!("fixtures/error_429.json"));
    assert_eq!(e.class, OutcomeClass::RateLimited);
    assert_eq!(e.provider, "cohere");
    assert!(e.message.as_deref().unwrap().contains("Trial key"));
    assert_eq!(parse_error(401, b"{}").class, OutcomeClass::AuthRejected);
    assert_eq!(
        parse_error(400, b"not json").class,
        OutcomeClass::RequestRejected
    );
    assert_eq!(parse_error(503, b"").class, OutcomeClass::ServerError);
    let via_format = super::FORMAT.parse_error(500, &HeaderMap::new(), b"{\"message\":\"x\"}");
    assert_eq!(via_format.class, OutcomeClass::ServerError);
}

/// Decodes `sse` cut at `cuts`, framed by the gateway's SSE framer, as
/// the stream translator does.
fn decode_at(sse: &str, cuts: &[usize]) -> Vec<StreamEvent> {
    let bytes = sse.as_bytes();
    let mut d = StreamDecoder::new(EventDecoder::new());
    let mut framer = signalbox_providers::SseFramer::new();
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        framer.push(&bytes[start..end]);
        start = end;
        while let Some(ev) = framer.next_event().unwrap() {
            out.extend(d.on_sse(ev.event.as_deref(), &ev.data).unwrap());
        }
    }
    out.extend(d.finish().unwrap());
    out
}

fn decode(sse: &str) -> Vec<StreamEvent> {
    decode_at(sse, &[])
}

#[test]
fn streams_decode_the_same_at_every_split_point() {
    for sse in [
        include_str!("fixtures/stream_text.sse"),
        include_str!("fixtures/stream_tool.sse"),
    ] {
        let whole = decode(sse);
        for cut in 1..sse.len() {
            assert_eq!(decode_at(sse, &[cut]), whole, "cut at {cut}");
        }
    }
}

#[test]
fn truncated_answers_are_errors_not_panics() {
    for body in [
        &include_bytes!("fixtures/response_text.json")[..],
        &include_bytes!("fixtures/response_tool.json")[..],
    ] {
        for end in 0..body.len() - 1 {
            assert!(parse_response(&body[..end]).is_err(), "prefix {end}");
            let _ = parse_error(500, &body[..end]);
        }
    }
}

#[test]
fn decodes_a_text_stream() {
    let events = decode(include_str!("fixtures/stream_text.sse"));
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "A large language model ✓");
    assert!(matches!(&events[0], StreamEvent::Start { id, .. } if id.starts_with("29f14a5a")));
    assert!(events.contains(&StreamEvent::Stop {
        choice: 0,
        reason: StopReason::Stop
    }));
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Usage(Usage {
            input_tokens: 5,
            output_tokens: 4
        }))
    );
}

#[test]
fn decodes_a_tool_call_stream() {
    let events = decode(include_str!("fixtures/stream_tool.sse"));
    assert!(events.contains(&StreamEvent::ToolCallStart {
        choice: 0,
        index: 0,
        id: "get_weather_nsz5zm3w56q3".into(),
        name: "get_weather".into(),
    }));
    let args: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(args, r#"{"location":"Toronto"}"#);
    assert!(events.contains(&StreamEvent::Stop {
        choice: 0,
        reason: StopReason::ToolCalls
    }));
}

#[test]
fn an_error_finish_is_a_stream_error_and_bad_json_is_refused() {
    let mut d = EventDecoder::new();
    let events = d
        .on_data(r#"{"type":"message-end","delta":{"finish_reason":"ERROR"}}"#)
        .unwrap();
    assert!(matches!(&events[..], [StreamEvent::Error { kind, .. }] if kind == "ERROR"));
    let err = adapter().classify_stream_error("ERROR", "boom");
    assert_eq!(err.class, OutcomeClass::ServerError);
    assert_eq!(err.ids.code.as_deref(), Some("ERROR"));
    assert!(d.on_data("{not json").is_err());
    assert!(
        d.on_data(r#"{"type":"citation-start","index":0}"#)
            .unwrap()
            .is_empty()
    );
}

#[cfg(feature = "mock")]
mod mock {
    use super::*;
    use crate::mock::{Answer, MockWire, Prompt};

    #[test]
    fn the_mock_answers_what_the_adapter_reads() {
        let body = br#"{"model":"command-a","messages":[{"role":"user","content":"hello there"}]}"#;
        let parsed = super::super::mock::Cohere.parse(body).unwrap();
        assert_eq!(parsed.request.model, "command-a");
        assert!(!parsed.stream);
        let answer = Answer::to(parsed.prompt, "c");
        let rendered = super::super::mock::Cohere
            .render_body(&parsed.request, &answer, 1)
            .unwrap();
        let r = parse_response(&rendered).unwrap();
        assert_eq!(r.text(), "[c] echo: hello there");
        let events = super::super::mock::Cohere
            .render_events(&parsed.request, &answer, 1, 3)
            .unwrap();
        let sse: String = events
            .iter()
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect();
        let decoded = decode(&sse);
        assert!(decoded.contains(&StreamEvent::Stop {
            choice: 0,
            reason: StopReason::Stop
        }));
    }

    #[test]
    fn the_mock_calls_the_first_tool_about_the_weather() {
        let prompt = Prompt {
            last_user_text: "weather in Paris?".into(),
            first_tool: Some("get_weather".into()),
            ..Prompt::default()
        };
        let answer = Answer::to(prompt, "c");
        let req = crate::mock::MockRequest::default();
        let body = super::super::mock::Cohere
            .render_body(&req, &answer, 2)
            .unwrap();
        let r = parse_response(&body).unwrap();
        assert_eq!(r.choices[0].stop_reason, StopReason::ToolCalls);
        let err =
            super::super::mock::Cohere.error_body(http::StatusCode::TOO_MANY_REQUESTS, "slow down");
        assert_eq!(parse_error(429, &err).message.as_deref(), Some("slow down"));
    }
}
