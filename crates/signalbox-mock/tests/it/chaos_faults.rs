//! The faults `signalbox chaos` needs beyond the basic ones (reset before
//! the head, a first failure then health, a slow first event, a stall, one
//! bad event mid-stream) and the call log that proves what reached the mock.

use super::*;
use signalbox_mock::{CallOutcome, StreamEnd};

#[tokio::test]
async fn reset_before_headers_gives_the_caller_no_status() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            reset_before_headers: true,
            ..Faults::default()
        });
        let sent = client()
            .post(format!("{}/chat/completions", mock.base_url()))
            .json(&chat("hi", false))
            .send()
            .await;
        assert!(sent.is_err(), "a status came through: {sent:?}");
        assert_eq!(mock.stats().errors_injected, 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn fail_first_counts_from_when_the_faults_are_set_over_http() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let client = client();
        // Two requests before the fault: they do not use it up.
        for _ in 0..2 {
            assert_eq!(
                post_chat(&client, &mock, &chat("hi", false)).await.status(),
                200
            );
        }
        let set = client
            .post(format!("http://{}/_mock/faults", mock.addr()))
            .body(r#"{"fail_first": 1, "error_status": 500}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200);
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(post_chat(&client, &mock, &chat("hi", false)).await.status());
        }
        assert_eq!(statuses, [500, 200, 200]);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn first_event_delay_sends_the_head_at_once_and_the_first_event_late() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            first_event_delay_ms: Some(60_000),
            ..Faults::default()
        });
        let response = timeout(
            Duration::from_secs(5),
            post_chat(&client(), &mock, &chat("hi", true)),
        )
        .await
        .expect("the head is not held back");
        assert_eq!(response.status(), 200);
        let mut sse = SseReader::new(response);
        let first = timeout(Duration::from_millis(300), sse.next()).await;
        assert!(first.is_err(), "an event came early: {first:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn stall_sends_some_events_then_nothing_and_logs_the_stall() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.log_calls(true);
        mock.set_faults(Faults {
            stall_stream_after: Some(2),
            ..Faults::default()
        });
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat("a b c", true)).await);
        for _ in 0..2 {
            assert!(sse.next().await.unwrap().is_some());
        }
        let third = timeout(Duration::from_millis(300), sse.next()).await;
        assert!(third.is_err(), "the stream went on: {third:?}");
        let calls = mock.calls();
        assert_eq!(calls[0].outcome, CallOutcome::Stream(StreamEnd::Stalled));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn malformed_event_after_breaks_one_event_mid_stream() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.set_faults(Faults {
            malformed_event_after: Some(2),
            ..Faults::default()
        });
        let mut sse = SseReader::new(post_chat(&client(), &mock, &chat("a b c", true)).await);
        let (events, clean) = sse.rest().await;
        assert!(clean);
        let bad: Vec<usize> = (0..events.len())
            .filter(|&i| {
                events[i] != "[DONE]" && serde_json::from_str::<Value>(&events[i]).is_err()
            })
            .collect();
        assert_eq!(bad, [2], "{events:?}");
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_call_log_keeps_request_ids_and_fates() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        let client = client();
        // Not logged: the log is off.
        post_chat(&client, &mock, &chat("hi", false)).await;
        mock.log_calls(true);
        let send = |id: &'static str, stream: bool| {
            client
                .post(format!("{}/chat/completions", mock.base_url()))
                .header("x-request-id", id)
                .json(&chat("hi", stream))
                .send()
        };
        send("r-json", false).await.unwrap().bytes().await.unwrap();
        send("r-stream", true).await.unwrap().bytes().await.unwrap();
        mock.set_faults(Faults {
            rate_limit_retry_after_secs: Some(3),
            ..Faults::default()
        });
        send("r-429", false).await.unwrap();
        mock.set_faults(Faults {
            cut_stream_after: Some(1),
            ..Faults::default()
        });
        let cut = send("r-cut", true).await.unwrap();
        let _ = cut.bytes().await;
        wait_for_stats(&mock, |s| s.in_flight == 0).await;
        let calls: Vec<(Option<String>, CallOutcome)> = mock
            .calls()
            .into_iter()
            .map(|c| (c.request_id, c.outcome))
            .collect();
        let id = |s: &str| Some(s.to_owned());
        assert_eq!(
            calls,
            [
                (id("r-json"), CallOutcome::Json),
                (id("r-stream"), CallOutcome::Stream(StreamEnd::Completed)),
                (
                    id("r-429"),
                    CallOutcome::RateLimited {
                        retry_after_secs: 3
                    }
                ),
                (id("r-cut"), CallOutcome::Stream(StreamEnd::Cut)),
            ]
        );
        mock.reset();
        assert!(mock.calls().is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn rate_limit_reset_sends_the_reset_header_without_retry_after() {
    timeout(TEST_TIMEOUT, async {
        let mock = start_named("m").await;
        mock.log_calls(true);
        mock.set_faults(Faults {
            rate_limit_reset_secs: Some(4),
            ..Faults::default()
        });
        let response = post_chat(&client(), &mock, &chat("hi", false)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["x-ratelimit-reset-requests"], "4s");
        assert!(response.headers().get("retry-after").is_none());
        assert_eq!(
            mock.calls()[0].outcome,
            CallOutcome::RateLimitedUntilReset { reset_secs: 4 }
        );
    })
    .await
    .unwrap();
}
