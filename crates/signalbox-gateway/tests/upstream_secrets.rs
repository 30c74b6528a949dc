//! An upstream that echoes the request it received (our `Authorization`,
//! `x-api-key`, `x-goog-api-key`, AWS key id and session token) in its error
//! text, in each wire format the gateway speaks: the gateway's own
//! credentials reach neither the caller's error body, the decision record
//! nor any log line. Its own test binary: the log capture is the process's
//! global subscriber.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::sync::Arc;

use signalbox_testkit::echo::{ECHOED_SECRETS, ECHOING_ALIASES, EchoMode, echoing_gateway};
use signalbox_testkit::{Harness, chat_body, stream_body};

/// Collects every log line the process writes.
#[derive(Clone, Default)]
struct Capture(Arc<parking_lot::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    for (name, secret) in ECHOED_SECRETS {
        assert!(!text.contains(secret), "{name} leaked into {what}: {text}");
    }
}

/// Sends `body` to `path` and returns the whole answer as text (headers
/// included), checking it carries no credential but does show the echo
/// was scrubbed (so the upstream really echoed).
async fn call(h: &Harness, path: &str, body: &serde_json::Value, id: &str) -> String {
    let resp = h
        .client
        .post(h.url(path))
        .header("x-request-id", id)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap();
    let mut all = format!("{} {:?}\n", resp.status(), resp.headers());
    all.push_str(&resp.text().await.unwrap());
    assert_clean(&format!("the answer to {id}"), &all);
    assert!(
        all.contains("[redacted]"),
        "{id}: no echo was scrubbed: {all}"
    );
    all
}

async fn record_json(h: &Harness, id: &str) -> String {
    let log = h.gateway.gateway().decision_log().unwrap().clone();
    for _ in 0..200 {
        log.flush().await;
        if let Some(r) = log
            .reader()
            .unwrap()
            .find(id, None)
            .unwrap()
            .into_iter()
            .next()
        {
            return serde_json::to_string(&r).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no decision record {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_credentials_reach_no_answer_record_or_log() {
    let capture = Capture::default();
    let sink = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();
    let mut ids = Vec::new();
    // 400: a rejection passed through; 500: a failure (logged at WARN).
    for status in [400, 500] {
        let (h, upstreams) = echoing_gateway(EchoMode::Status(status)).await;
        for (_, alias) in ECHOING_ALIASES {
            let id = format!("echo-{status}-{alias}");
            call(&h, "/v1/chat/completions", &chat_body(alias, "hi"), &id).await;
            ids.push(id);
        }
        let messages = serde_json::json!({"model": "an", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi"}]});
        let id = format!("echo-{status}-messages");
        call(&h, "/v1/messages", &messages, &id).await;
        ids.push(id);
        for id in &ids {
            assert_clean(&format!("the record of {id}"), &record_json(&h, id).await);
        }
        ids.clear();
        h.stop().await;
        upstreams.into_iter().for_each(|u| u.stop());
    }
    // An error event inside a 200 stream: forwarded (OpenAI-compatible) or
    // translated (Anthropic).
    let (h, upstreams) = echoing_gateway(EchoMode::StreamError).await;
    for alias in ["oa", "an"] {
        let id = format!("echo-stream-{alias}");
        call(&h, "/v1/chat/completions", &stream_body(alias, "hi"), &id).await;
        assert_clean(&format!("the record of {id}"), &record_json(&h, &id).await);
    }
    h.stop().await;
    upstreams.into_iter().for_each(|u| u.stop());
    let logs = String::from_utf8_lossy(&capture.0.lock()).to_string();
    // The capture saw the failures, so it was really listening.
    assert!(logs.contains("Request failed"), "nothing captured: {logs}");
    assert!(
        logs.contains("[redacted]"),
        "no scrubbed detail logged: {logs}"
    );
    // aws-sigv4 itself TRACE-logs the access key id it signs with (an
    // identifier AWS does not treat as secret; its secret key it redacts):
    // that line is the signer's, not upstream text, so it is left out here.
    let ours: String = logs
        .lines()
        .filter(|l| !l.contains("aws_sigv4::"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_clean("the logs", &ours);
}
