//! No log line, at any level and from any crate in the process (gateway,
//! mock, hyper, reqwest), contains a value the privacy boundary detected.
//! Its own test binary: the log capture is the process's global subscriber.

use std::sync::Arc;

use signalbox_testkit::{Harness, chat_body, stream_body};

const PRIVACY_YAML: &str = include_str!("../../../examples/privacy.yaml");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_at_any_level_contains_a_detected_value() {
    let capture = Capture::default();
    let sink = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();
    let email = "jane.doe@example.com";
    let card = "4111 1111 1111 1111";
    let key = "AKIAIOSFODNN7EXAMPLE";
    let h = Harness::start(PRIVACY_YAML, &["upstream"], &[]).await;
    let prompt = format!("Email {email} about card {card}");
    let _ = h.chat(&chat_body("chat", &prompt)).await.text().await;
    let _ = h.chat(&stream_body("chat", &prompt)).await.text().await;
    let _ = h
        .chat(&chat_body("chat", &format!("key {key}")))
        .await
        .text()
        .await;
    h.stop().await;
    let logs = String::from_utf8_lossy(&capture.0.lock()).to_string();
    // The capture saw the gateway's own refusal, so it was really listening.
    assert!(logs.contains("Request refused"), "nothing captured: {logs}");
    for secret in [email, card, key, "4111111111111111"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}
