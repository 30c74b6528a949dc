//! Integration tests: real HTTP against in-process mocks on port 0.

// Helpers outside `#[test]` functions unwrap too; a failed unwrap is a failed test.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use signalbox_mock::{Faults, MockHandle, MockOptions, MockProvider, Stats};
use tokio::time::{Instant, timeout};

/// Upper bound for every test body.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_named(name: &str) -> MockHandle {
    let options = MockOptions {
        name: name.to_owned(),
        ..MockOptions::default()
    };
    MockProvider::start(local(), options).await.unwrap()
}

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().build().unwrap()
}

fn chat(text: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse"},
            {"role": "user", "content": text}
        ]
    })
}

async fn post_chat(client: &Client, mock: &MockHandle, body: &Value) -> Response {
    client
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(response: Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// Polls the mock's stats until `done` holds, for at most five seconds.
async fn wait_for_stats(mock: &MockHandle, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = mock.stats();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Splits an SSE body into `data:` payloads as chunks arrive.
struct SseReader {
    response: Response,
    buffer: String,
    /// Number of body chunks read so far.
    chunks: usize,
}

impl SseReader {
    fn new(response: Response) -> Self {
        Self {
            response,
            buffer: String::new(),
            chunks: 0,
        }
    }

    /// The next event's data, `Ok(None)` at a clean end, `Err` if the body broke off.
    async fn next(&mut self) -> Result<Option<String>, reqwest::Error> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data = event.trim_end().strip_prefix("data: ").unwrap();
                return Ok(Some(data.to_owned()));
            }
            match self.response.chunk().await? {
                Some(chunk) => {
                    self.chunks += 1;
                    self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
                }
                None => {
                    assert!(self.buffer.is_empty(), "trailing bytes: {:?}", self.buffer);
                    return Ok(None);
                }
            }
        }
    }

    /// All remaining events, plus whether the body ended cleanly.
    async fn rest(&mut self) -> (Vec<String>, bool) {
        let mut events = Vec::new();
        loop {
            match self.next().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => return (events, true),
                Err(_) => return (events, false),
            }
        }
    }
}

fn content_of(events: &[String]) -> String {
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

mod chaos_faults;
mod control;
mod embeddings;
mod faults;
mod formats;
mod non_streaming;
mod streaming;
