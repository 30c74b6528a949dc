//! Bedrock egress, SigV4 vectors, responses, errors and event-stream decoding.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use serde_json::{Value, json};
use signalbox_adapters::bedrock::{
    self, AwsCredentials, BedrockAdapter, FrameDecoder, HeaderValue, encode_frame, sign_request,
};
use signalbox_adapters::{
    Adapter, NoteAction, Secret, StopReason, StreamEvent, UpstreamRequest, Usage, openai,
};
use signalbox_core::OutcomeClass;

use crate::{body, decode, fixture, header, noted, render, route};

fn credentials(token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: token.map(Secret::new),
    }
}

fn adapter() -> Adapter {
    Adapter::new(BedrockAdapter {
        region: "us-east-1".into(),
        endpoint: None,
        credentials: credentials(Some("session")),
    })
}

/// 2015-08-30T12:36:00Z, the AWS test suite's clock.
fn suite_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

fn vector(method: &str, token: Option<&str>) -> String {
    let mut req = UpstreamRequest {
        method: method.parse().unwrap(),
        url: "https://example.amazonaws.com/".into(),
        headers: Default::default(),
        body: Vec::new(),
        stream: false,
    };
    sign_request(
        &mut req,
        &credentials(token),
        "us-east-1",
        "service",
        suite_time(),
    )
    .unwrap();
    assert_eq!(req.headers["x-amz-date"], "20150830T123600Z");
    req.headers["authorization"].to_str().unwrap().to_owned()
}

#[test]
fn sigv4_test_suite_vectors() {
    // aws-sig-v4-test-suite: post-vanilla and get-vanilla-with-session-token.
    assert_eq!(
        vector("POST", None),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    );
    assert_eq!(
        vector(
            "GET",
            Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")
        ),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-security-token, \
         Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
    );
}

#[test]
fn a_refused_n_is_named_as_the_client_wrote_it() {
    let mut req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    req.sampling.n = Some(2);
    let err = adapter()
        .render(&req, &route("m"), suite_time())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`n`") && !text.contains("sampling."),
        "{text}"
    );
}

#[test]
fn renders_and_signs_converse() {
    let req = openai::parse_request(fixture("openai/request_tools.json").as_bytes()).unwrap();
    let out = render(
        &adapter(),
        &req,
        &route("anthropic.claude-3-5-sonnet-20240620-v1:0"),
    );
    assert_eq!(
        out.request.url,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    );
    let auth = header(&out, "authorization").unwrap();
    assert!(auth.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request"
    ));
    assert!(auth.contains("x-amz-security-token"));
    assert_eq!(header(&out, "x-amz-security-token"), Some("session"));
    assert!(!format!("{:?}", out.request.headers).contains("Signature="));
    let b = body(&out);
    assert_eq!(b["system"], json!([{"text": "You are a weather bot."}]));
    assert_eq!(
        b["inferenceConfig"],
        json!({"maxTokens": 300, "temperature": 0.2, "stopSequences": ["END"]})
    );
    assert_eq!(
        b["messages"][0]["content"][1],
        json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}})
    );
    assert_eq!(
        b["messages"][1]["content"][0]["toolUse"]["input"],
        json!({"location": "Paris"})
    );
    assert_eq!(
        b["messages"][2]["content"][0]["toolResult"],
        json!({"toolUseId": "call_abc", "content": [{"text": "{\"temp_c\":18}"}], "status": "success"})
    );
    assert_eq!(
        b["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["type"],
        "object"
    );
    assert_eq!(b["toolConfig"]["toolChoice"], json!({"auto": {}}));
    assert!(noted(&out.notes, "sampling.seed", NoteAction::Dropped));
}

#[test]
fn parses_converse_response_and_errors() {
    let resp =
        bedrock::parse_response(fixture("bedrock/converse_response.json").as_bytes()).unwrap();
    assert_eq!(resp.choices[0].stop_reason, StopReason::ToolCalls);
    assert_eq!(resp.choices[0].content.len(), 2);
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 30,
            output_tokens: 25
        }
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amzn-errortype",
        "ThrottlingException:http://internal.amazon.com/"
            .parse()
            .unwrap(),
    );
    let e = adapter().parse_error(429, &headers, br#"{"message":"Too many requests"}"#);
    assert_eq!(
        (e.class, e.kind.as_deref()),
        (OutcomeClass::RateLimited, Some("ThrottlingException"))
    );
    assert_eq!(e.message.as_deref(), Some("Too many requests"));
    let e = bedrock::parse_error(424, Some("ModelErrorException"), b"{}");
    assert_eq!(e.class, OutcomeClass::ServerError);
}

/// The fixture's events as an event-stream body.
fn stream_body() -> Vec<u8> {
    let events: Vec<(String, Value)> =
        serde_json::from_str(&fixture("bedrock/converse_stream_events.json")).unwrap();
    events
        .iter()
        .flat_map(|(kind, payload)| {
            encode_frame(
                &[
                    (":event-type", HeaderValue::String(kind.clone())),
                    (
                        ":content-type",
                        HeaderValue::String("application/json".into()),
                    ),
                    (":message-type", HeaderValue::String("event".into())),
                ],
                payload.to_string().as_bytes(),
            )
        })
        .collect()
}

#[test]
fn decodes_converse_stream_split_at_every_byte() {
    let bytes = stream_body();
    let whole = decode(adapter().stream_decoder(), &bytes, &[]);
    assert_eq!(crate::text(&whole), "Checking now.");
    assert_eq!(crate::tool_arguments(&whole, 0), r#"{"location":"Paris"}"#);
    assert_eq!(
        &whole[whole.len() - 2..],
        [
            StreamEvent::Stop {
                choice: 0,
                reason: StopReason::ToolCalls
            },
            StreamEvent::Usage(Usage {
                input_tokens: 30,
                output_tokens: 25
            }),
        ]
    );
    for cut in 0..=bytes.len() {
        assert_eq!(
            decode(adapter().stream_decoder(), &bytes, &[cut]),
            whole,
            "cut at {cut}"
        );
    }
}

#[test]
fn exceptions_cuts_and_corruption() {
    let frame = encode_frame(
        &[
            (":message-type", HeaderValue::String("exception".into())),
            (
                ":exception-type",
                HeaderValue::String("throttlingException".into()),
            ),
        ],
        br#"{"message":"slow down"}"#,
    );
    let events = decode(adapter().stream_decoder(), &frame, &[]);
    let [StreamEvent::Error { kind, message }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        adapter().classify_stream_error(kind, message).class,
        OutcomeClass::RateLimited
    );

    let mut d = adapter().stream_decoder();
    d.on_bytes(&frame[..frame.len() - 3]).unwrap();
    assert!(
        d.finish().is_err(),
        "a stream cut inside a frame is an error"
    );
    let mut corrupt = frame.clone();
    let last = corrupt.len() - 6;
    corrupt[last] ^= 0xff;
    assert!(adapter().stream_decoder().on_bytes(&corrupt).is_err());
    assert!(adapter().stream_decoder().on_sse(None, "{}").is_err());
}

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        any::<bool>().prop_map(HeaderValue::Bool),
        any::<i8>().prop_map(HeaderValue::Byte),
        any::<i16>().prop_map(HeaderValue::Short),
        any::<i32>().prop_map(HeaderValue::Int),
        any::<i64>().prop_map(HeaderValue::Long),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(HeaderValue::Bytes),
        "[a-zA-Z:-]{0,20}".prop_map(HeaderValue::String),
        any::<i64>().prop_map(HeaderValue::Timestamp),
        any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
    ]
}

proptest! {
    #[test]
    fn frames_survive_any_split(
        frames in proptest::collection::vec(
            (proptest::collection::vec(("[a-z:]{1,12}", header_value()), 0..4),
             proptest::collection::vec(any::<u8>(), 0..64)),
            1..5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut bytes = Vec::new();
        for (headers, payload) in &frames {
            let h: Vec<(&str, HeaderValue)> = headers.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
            bytes.extend(encode_frame(&h, payload));
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        points.push(bytes.len());
        let mut decoder = FrameDecoder::new();
        let mut got = Vec::new();
        let mut start = 0;
        for end in points {
            decoder.push(&bytes[start..end]);
            start = end;
            while let Some(f) = decoder.next_frame().unwrap() {
                got.push((f.headers, f.payload));
            }
        }
        prop_assert_eq!(decoder.pending_len(), 0);
        let want: Vec<_> = frames
            .iter()
            .map(|(h, p)| (h.iter().map(|(n, v)| (n.clone(), v.clone())).collect::<Vec<_>>(), p.clone()))
            .collect();
        prop_assert_eq!(got, want);
    }
}
