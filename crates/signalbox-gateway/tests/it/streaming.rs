//! Streams: forwarded chunk by chunk, cancelled with the client, and ended
//! by an explicit error event when the upstream breaks after commit.

use std::time::Duration;

use futures::StreamExt;
use signalbox_mock::{Faults, MockOptions};
use signalbox_testkit::{Harness, eventually, stream_body};

use crate::{TWO_ROUTES, header};

async fn slow_streams(delay_ms: u64) -> Harness {
    let opts = MockOptions {
        stream_chunks: 5,
        chunk_delay_ms: delay_ms,
        ..MockOptions::default()
    };
    Harness::start_with(
        TWO_ROUTES,
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "k".into())],
        opts,
    )
    .await
}

fn data_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("data: ")).collect()
}

/// The streamed answer text, reassembled from the deltas.
fn content(text: &str) -> String {
    data_lines(text)
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l[6..]).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test]
async fn streams_arrive_incrementally() {
    let h = slow_streams(150).await;
    let resp = h
        .chat(&stream_body("chat", "one two three four five six"))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    assert_eq!(header(&resp, "x-signalbox-route"), "primary-route");
    let mut body = resp.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "), "{first:?}");
    // The first chunk is in our hands while the upstream is still producing.
    let stats = h.mock("primary").stats();
    assert_eq!(stats.streams_started, 1);
    assert_eq!(
        stats.streams_completed, 0,
        "the gateway must not buffer the whole stream"
    );
    let mut text = String::from_utf8_lossy(&first).to_string();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let lines = data_lines(&text);
    assert_eq!(lines.last(), Some(&"data: [DONE]"));
    let content: String = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l[6..]).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(content, "[primary] echo: one two three four five six");
    assert!(
        eventually(Duration::from_secs(5), || h
            .mock("primary")
            .stats()
            .streams_completed
            == 1)
        .await
    );
    h.stop().await;
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream() {
    let h = slow_streams(300).await;
    let resp = h.chat(&stream_body("chat", "a b c d e f g h")).await;
    let mut body = resp.bytes_stream();
    let _first = body.next().await.unwrap().unwrap();
    drop(body);
    let m = h.mock("primary");
    assert!(
        eventually(Duration::from_secs(5), || m.stats().streams_cancelled == 1).await,
        "upstream stream was not cancelled: {:?}",
        m.stats()
    );
    assert_eq!(m.stats().streams_completed, 0);
    h.stop().await;
}

#[tokio::test]
async fn mid_stream_cut_ends_with_an_explicit_error_event() {
    let h = slow_streams(10).await;
    h.mock("primary").set_faults(Faults {
        cut_stream_after: Some(2),
        ..Faults::default()
    });
    let resp = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-request-id", "cut-req-1")
        .json(&stream_body("chat", "a b c d e f g"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let lines = data_lines(&text);
    let last: serde_json::Value = serde_json::from_str(&lines.last().unwrap()[6..]).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cut-req-1")
    );
    assert_eq!(last["signalbox"]["route"], "primary-route");
    assert!(!text.contains("[DONE]"));
    // Never spliced with another route's output.
    assert_eq!(h.mock("secondary").stats().requests, 0);
    h.stop().await;
}

#[tokio::test]
async fn stream_fails_over_before_the_first_event() {
    let h = slow_streams(0).await;
    h.mock("primary").set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Faults::default()
    });
    let resp = h.chat(&stream_body("chat", "hello")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary-route");
    assert_eq!(header(&resp, "x-signalbox-attempts"), "2");
    let text = resp.text().await.unwrap();
    assert_eq!(content(&text), "[secondary] echo: hello");
    assert!(text.ends_with("data: [DONE]\n\n"));
    h.stop().await;
}

#[tokio::test]
async fn malformed_stream_event_is_reported_not_forwarded() {
    let h = slow_streams(0).await;
    h.mock("primary").set_faults(Faults {
        malformed_json: true,
        ..Faults::default()
    });
    let resp = h.chat(&stream_body("chat", "hello")).await;
    // The broken event comes before anything was committed, so the next
    // route serves the whole stream.
    assert_eq!(header(&resp, "x-signalbox-route"), "secondary-route");
    let text = resp.text().await.unwrap();
    assert!(!text.contains("{not json"), "{text}");
    assert_eq!(content(&text), "[secondary] echo: hello");
    h.stop().await;
}

#[tokio::test]
async fn the_total_deadline_ends_a_long_stream_with_an_error_event() {
    // total 1s; five chunks 400 ms apart need 2 s.
    let config = TWO_ROUTES.replace(
        "timeouts: { connect: 500ms, first-byte: 700ms, total: 10s }",
        "timeouts: { connect: 500ms, first-byte: 700ms, total: 1s }",
    );
    let opts = MockOptions {
        stream_chunks: 5,
        chunk_delay_ms: 400,
        ..MockOptions::default()
    };
    let h = Harness::start_with(
        &config,
        &["primary", "secondary"],
        &[("PRIMARY_KEY", "k".into())],
        opts,
    )
    .await;
    let resp = h.chat(&stream_body("chat", "a b c d e f")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(text.contains("stream_interrupted"), "{text}");
    assert!(text.contains("total timeout after 1.0s"), "{text}");
    h.stop().await;
}
