use super::*;

#[tokio::test]
async fn streams_chunks_in_order_as_they_are_produced() {
    timeout(TEST_TIMEOUT, async {
        let options = MockOptions {
            name: "s".to_owned(),
            stream_chunks: 5,
            chunk_delay_ms: 300,
        };
        let mock = MockProvider::start(local(), options).await.unwrap();
        let mut body = chat("one two three four five six", true);
        body["stream_options"] = json!({"include_usage": true});
        let response = post_chat(&client(), &mock, &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["x-mock-name"], "s");
        let mut sse = SseReader::new(response);

        let first = sse.next().await.unwrap().unwrap();
        // The first event is here while the mock is still producing the rest.
        let stats = mock.stats();
        assert_eq!((stats.streams_started, stats.streams_completed), (1, 0));
        assert_eq!(stats.in_flight, 1);
        let first: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["model"], "gpt-test");
        assert_eq!(
            first["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );

        let (events, clean) = sse.rest().await;
        assert!(clean);
        assert!(sse.chunks > 1);
        // 5 content pieces, the finish chunk, the usage chunk, [DONE].
        assert_eq!(events.len(), 8, "{events:?}");
        assert_eq!(content_of(&events), "[s] echo: one two three four five six");
        let finish: Value = serde_json::from_str(&events[5]).unwrap();
        assert_eq!(finish["choices"][0]["delta"], json!({}));
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        let usage: Value = serde_json::from_str(&events[6]).unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(
            usage["usage"],
            json!({"prompt_tokens": 17, "completion_tokens": 8, "total_tokens": 25})
        );
        assert_eq!(events[7], "[DONE]");

        let stats = wait_for_stats(&mock, |s| s.in_flight == 0).await;
        assert_eq!(
            (
                stats.streams_completed,
                stats.streams_cancelled,
                stats.in_flight
            ),
            (1, 0, 0)
        );
        assert_eq!(stats.responses_ok, 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn usage_chunk_only_when_asked_and_short_texts_use_fewer_chunks() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat("hi", true)).await);
        let (events, clean) = sse.rest().await;
        assert!(clean);
        // role, 5 content pieces, finish, [DONE]; no usage chunk.
        assert_eq!(events.len(), 8, "{events:?}");
        assert!(events.iter().all(|e| !e.contains("\"usage\"")));
        assert_eq!(content_of(&events), "[m] echo: hi");

        mock.set_faults(Faults {
            stream_chunks: Some(50),
            ..Faults::default()
        });
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat("hi", true)).await);
        let (events, _) = sse.rest().await;
        // "[m] echo: hi" has 12 characters, so 12 pieces.
        assert_eq!(events.len(), 1 + 12 + 2);
        assert_eq!(content_of(&events), "[m] echo: hi");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn stream_chunks_fault_overrides_the_default() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            stream_chunks: Some(2),
            ..Faults::default()
        });
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat("a b c d e f", true)).await);
        let (events, clean) = sse.rest().await;
        assert!(clean);
        assert_eq!(events.len(), 1 + 2 + 2, "{events:?}");
        assert_eq!(content_of(&events), "[m] echo: a b c d e f");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn streams_tool_calls() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let mut body = chat("weather in Paris", true);
        body["tools"] = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        let mut sse = SseReader::new(post_chat(&client(), &mock, &body).await);
        let (events, _) = sse.rest().await;
        assert_eq!(events.len(), 4, "{events:?}");
        let call: Value = serde_json::from_str(&events[1]).unwrap();
        let tool_call = &call["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(tool_call["index"], 0);
        assert_eq!(tool_call["function"]["name"], "get_weather");
        let finish: Value = serde_json::from_str(&events[2]).unwrap();
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn dropped_client_cancels_the_stream() {
    timeout(TEST_TIMEOUT, async {
        let options = MockOptions {
            name: "m".to_owned(),
            stream_chunks: 200,
            chunk_delay_ms: 50,
        };
        let mock = MockProvider::start(local(), options).await.unwrap();
        let long = "word ".repeat(100);
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat(&long, true)).await);
        assert!(sse.next().await.unwrap().is_some());
        drop(sse);

        let stats = wait_for_stats(&mock, |s| s.streams_cancelled == 1).await;
        assert_eq!(stats.streams_cancelled, 1);
        assert_eq!((stats.streams_started, stats.streams_completed), (1, 0));
        let stats = wait_for_stats(&mock, |s| s.in_flight == 0).await;
        assert_eq!(stats.in_flight, 0);
    })
    .await
    .unwrap();
}
