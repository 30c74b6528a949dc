//! The Anthropic and Gemini formats end to end: requests rendered by `signalbox-adapters`,
//! answered by a mock of that format, read back by the same adapter; faults in every format.

use signalbox_adapters::anthropic::AnthropicAdapter;
use signalbox_adapters::gemini::GeminiAdapter;
use signalbox_adapters::openai::{self, OpenAiAdapter, OpenAiQuirks};
use signalbox_adapters::{Adapter, RouteSettings, Secret, StopReason, StreamEvent, Usage};
use signalbox_core::OutcomeClass;
use signalbox_mock::MockFormat;

use super::*;

async fn start(format: MockFormat) -> MockHandle {
    let options = MockOptions {
        name: "m".to_owned(),
        ..MockOptions::default()
    };
    MockProvider::start_as(local(), options, format)
        .await
        .unwrap()
}

fn adapter(mock: &MockHandle) -> Adapter {
    let base_url = mock.base_url();
    match mock.format() {
        MockFormat::OpenAi => Adapter::new(OpenAiAdapter {
            base_url,
            api_key: None,
            quirks: OpenAiQuirks::default(),
        }),
        MockFormat::Anthropic => Adapter::new(AnthropicAdapter {
            base_url,
            api_key: Some(Secret::new("k")),
        }),
        MockFormat::Gemini => Adapter::new(GeminiAdapter {
            base_url,
            api_version: "v1beta".into(),
            api_key: Some(Secret::new("k")),
        }),
        // Any other format: its kind's adapter, from the registry.
        other => signalbox_adapters::format_of(other.kind())
            .adapter(&signalbox_adapters::Endpoint {
                base_url,
                api_key: Some(Secret::new("k")),
                ..signalbox_adapters::Endpoint::default()
            })
            .unwrap(),
    }
}

/// An OpenAI client's request, translated for the mock's format and sent.
async fn send(client: &Client, mock: &MockHandle, body: &Value) -> Response {
    let req = openai::parse_request(body.to_string().as_bytes()).unwrap();
    let at = std::time::UNIX_EPOCH;
    let rendered = adapter(mock)
        .render(&req, &RouteSettings::new("model-m"), at)
        .unwrap();
    client
        .post(&rendered.request.url)
        .headers(rendered.request.headers)
        .body(rendered.request.body)
        .send()
        .await
        .unwrap()
}

/// Every canonical event of an SSE body, plus whether it ended cleanly.
async fn stream_events(mock: &MockHandle, response: Response) -> (Vec<StreamEvent>, bool) {
    let mut decoder = adapter(mock).stream_decoder();
    let (bytes, clean) = match response.bytes().await {
        Ok(b) => (b.to_vec(), true),
        Err(_) => (Vec::new(), false),
    };
    let text = String::from_utf8(bytes).unwrap();
    let mut events = Vec::new();
    for raw in text.split("\n\n").filter(|e| !e.is_empty()) {
        let data: Vec<&str> = raw
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        events.extend(decoder.on_sse(None, &data.join("\n")).unwrap());
    }
    events.extend(decoder.finish().unwrap());
    (events, clean)
}

fn weather(stream: bool) -> Value {
    json!({
        "model": "x",
        "stream": stream,
        "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    })
}

const FORMATS: [MockFormat; 3] = [
    MockFormat::OpenAi,
    MockFormat::Anthropic,
    MockFormat::Gemini,
];

#[tokio::test]
async fn every_format_answers_with_the_same_meaning() {
    timeout(TEST_TIMEOUT, async {
        let client = client();
        let mut usages = Vec::new();
        for format in FORMATS {
            let mock = start(format).await;
            let response = send(&client, &mock, &chat("hello there", false)).await;
            assert_eq!(response.status(), StatusCode::OK, "{format}");
            let body = response.bytes().await.unwrap();
            let answer = adapter(&mock).parse_response(&body).unwrap();
            assert_eq!(answer.text(), "[m] echo: hello there", "{format}");
            assert_eq!(answer.choices[0].stop_reason, StopReason::Stop);
            usages.push(answer.usage);
            mock.shutdown();
        }
        assert!(usages.windows(2).all(|w| w[0] == w[1]), "{usages:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn every_format_streams_text_and_tool_calls() {
    timeout(TEST_TIMEOUT, async {
        let client = client();
        for format in FORMATS {
            let mock = start(format).await;
            let (events, clean) = stream_events(
                &mock,
                send(&client, &mock, &chat("a b c d e f", true)).await,
            )
            .await;
            assert!(clean, "{format}");
            let text: String = events
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::TextDelta { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(text, "[m] echo: a b c d e f", "{format}");

            let (events, _) =
                stream_events(&mock, send(&client, &mock, &weather(true)).await).await;
            let args: String = events
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::ToolCallDelta { arguments, .. } => Some(arguments.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(args, r#"{"location":"Paris"}"#, "{format}");
            assert!(
                events.contains(&StreamEvent::Stop {
                    choice: 0,
                    reason: StopReason::ToolCalls
                }),
                "{format}: {events:?}"
            );
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, StreamEvent::Usage(u) if *u != Usage::default())),
                "{format}"
            );
            mock.shutdown();
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn faults_apply_in_every_format() {
    timeout(TEST_TIMEOUT, async {
        let client = client();
        for format in FORMATS {
            let mock = start(format).await;
            let a = adapter(&mock);
            mock.set_faults(Faults {
                rate_limit_retry_after_secs: Some(3),
                ..Faults::default()
            });
            let response = send(&client, &mock, &chat("hi", false)).await;
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()["retry-after"], "3");
            let headers = response.headers().clone();
            let error = a.parse_error(429, &headers, &response.bytes().await.unwrap());
            assert_eq!(error.class, OutcomeClass::RateLimited, "{format}");
            assert!(
                error.kind.is_some(),
                "{format}: error body in the format's shape"
            );

            mock.set_faults(Faults {
                error_rate: 1.0,
                error_status: 500,
                ..Faults::default()
            });
            let response = send(&client, &mock, &chat("hi", false)).await;
            let error = a.parse_error(500, &Default::default(), &response.bytes().await.unwrap());
            assert_eq!(error.class, OutcomeClass::ServerError, "{format}");

            mock.set_faults(Faults {
                malformed_json: true,
                ..Faults::default()
            });
            let body = send(&client, &mock, &chat("hi", false))
                .await
                .bytes()
                .await
                .unwrap();
            assert!(a.parse_response(&body).is_err(), "{format}");

            mock.set_faults(Faults {
                cut_stream_after: Some(2),
                ..Faults::default()
            });
            let (events, clean) =
                stream_events(&mock, send(&client, &mock, &chat("a b c", true)).await).await;
            assert!(
                !clean || !events.iter().any(|e| matches!(e, StreamEvent::Stop { .. })),
                "{format}"
            );

            mock.set_faults(Faults {
                hang: true,
                ..Faults::default()
            });
            let hung = tokio::time::timeout(
                Duration::from_millis(200),
                send(&client, &mock, &chat("hi", false)),
            )
            .await;
            assert!(hung.is_err(), "{format}");
            assert_eq!(mock.stats().hangs, 1, "{format}");
            mock.shutdown();
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn each_mock_serves_only_its_own_paths() {
    timeout(TEST_TIMEOUT, async {
        let client = client();
        let anthropic = start(MockFormat::Anthropic).await;
        let response = client
            .post(format!("http://{}/v1/chat/completions", anthropic.addr()))
            .json(&chat("hi", false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(response).await["error"]["type"], "not_found_error");
        let models = client
            .get(format!("{}/v1/models", anthropic.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(json_of(models).await["data"][0]["type"], "model");
        let gemini = start(MockFormat::Gemini).await;
        let response = client
            .post(format!(
                "http://{}/v1beta/models/g:streamGenerateContent",
                gemini.addr()
            ))
            .json(&json!({"contents": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            json_of(response).await["error"]["status"],
            "INVALID_ARGUMENT"
        );
        assert_eq!("gemini".parse::<MockFormat>().unwrap(), MockFormat::Gemini);
        assert!("grpc".parse::<MockFormat>().is_err());
    })
    .await
    .unwrap();
}
