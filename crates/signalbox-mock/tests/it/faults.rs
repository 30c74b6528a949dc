use super::*;

#[tokio::test]
async fn error_rate_half_fails_every_second_request() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            error_rate: 0.5,
            ..Faults::default()
        });
        let client = client();
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let response = post_chat(&client, &mock, &chat("hi", false)).await;
            assert_eq!(response.headers()["x-mock-name"], "m");
            let status = response.status();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                let body = json_of(response).await;
                assert_eq!(body["error"]["type"], "server_error");
            }
            statuses.push(status.as_u16());
        }
        assert_eq!(statuses, [200, 503, 200, 503, 200, 503, 200, 503, 200, 503]);
        let stats = mock.stats();
        assert_eq!(
            (stats.requests, stats.responses_ok, stats.errors_injected),
            (10, 5, 5)
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn error_status_is_configurable() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            error_rate: 1.0,
            error_status: 500,
            ..Faults::default()
        });
        let response = post_chat(&client(), &mock, &chat("hi", true)).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(mock.stats().streams_started, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            rate_limit_retry_after_secs: Some(7),
            error_rate: 1.0,
            ..Faults::default()
        });
        for stream in [false, true] {
            let response = post_chat(&client(), &mock, &chat("hi", stream)).await;
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()["retry-after"], "7");
            let body = json_of(response).await;
            assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        }
        assert_eq!(mock.stats().errors_injected, 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn latency_delays_the_answer() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            latency_ms: 300,
            ..Faults::default()
        });
        let client = client();
        let started = Instant::now();
        let response = post_chat(&client, &mock, &chat("hi", false)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(started.elapsed() >= Duration::from_millis(300));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn hang_never_answers_until_shutdown() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            hang: true,
            ..Faults::default()
        });
        let client = client();
        let attempt = timeout(
            Duration::from_millis(300),
            post_chat(&client, &mock, &chat("hi", false)),
        )
        .await;
        assert!(attempt.is_err(), "a hanging mock answered");
        let stats = wait_for_stats(&mock, |s| s.hangs == 1).await;
        assert_eq!((stats.hangs, stats.requests, stats.responses_ok), (1, 1, 0));
        // The client gave up and closed its connection, so the hanging handler is gone too.
        let stats = wait_for_stats(&mock, |s| s.in_flight == 0).await;
        assert_eq!(stats.in_flight, 0);

        // Shutting down releases hanging requests instead of leaving them for ever.
        let pending = tokio::spawn({
            let client = client.clone();
            let mock = mock.clone();
            async move { post_chat(&client, &mock, &chat("hi", false)).await.status() }
        });
        wait_for_stats(&mock, |s| s.hangs == 2).await;
        mock.shutdown();
        assert_eq!(pending.await.unwrap(), StatusCode::SERVICE_UNAVAILABLE);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn cut_stream_aborts_without_done() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            cut_stream_after: Some(2),
            ..Faults::default()
        });
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat("hello there", true)).await);
        let (events, clean) = sse.rest().await;
        assert!(!clean, "the body ended cleanly: {events:?}");
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events.iter().all(|e| e != "[DONE]"));
        let stats = wait_for_stats(&mock, |s| s.in_flight == 0).await;
        assert_eq!(
            (
                stats.streams_cut,
                stats.streams_completed,
                stats.streams_cancelled
            ),
            (1, 0, 0)
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn malformed_json_breaks_bodies_and_events() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            malformed_json: true,
            ..Faults::default()
        });
        let client = client();
        let response = post_chat(&client, &mock, &chat("hi", false)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

        let mut sse = SseReader::new(post_chat(&client, &mock, &chat("hi", true)).await);
        let (events, clean) = sse.rest().await;
        assert!(clean);
        assert_eq!(events, ["{not json", "[DONE]"]);
        let stats = mock.stats();
        assert_eq!((stats.responses_ok, stats.streams_completed), (2, 1));
    })
    .await
    .unwrap();
}
