//! Owns reading one gateway answer the way a careful client would: the
//! status and `x-signalbox-*` headers, then the JSON body (a completion, or
//! an error of the OpenAI shape, and the `signalbox` degradation marker) or
//! the SSE stream event by event (its end marker, finish reason, error
//! event, unreadable events, and whether the body broke off) — in OpenAI's
//! format, or in Anthropic's for requests sent to `/v1/messages`.

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::facts::{Answer, BodyFacts, StreamFacts};

/// The parts of an answer's head the checks read.
pub(crate) fn head(response: &Response) -> Answer {
    let headers = response.headers();
    let text = |name: &str| header(headers, name);
    Answer {
        status: Some(response.status().as_u16()),
        failure: None,
        gateway_id: text("x-signalbox-request-id"),
        route: text("x-signalbox-route"),
        attempts: text("x-signalbox-attempts").and_then(|a| a.parse().ok()),
        degraded_header: text("x-signalbox-degraded")
            .map(|d| d.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default(),
        replay: text("x-signalbox-idempotent-replay").as_deref() == Some("true"),
        body: BodyFacts::default(),
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// What a whole JSON body held.
pub(crate) fn json_body(bytes: &[u8]) -> BodyFacts {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return BodyFacts::default();
    };
    BodyFacts {
        completion: value["choices"]
            .as_array()
            .is_some_and(|c| !c.is_empty() && c[0]["message"].is_object()),
        error_shape: value["error"]["message"].is_string() && value["error"]["type"].is_string(),
        error_code: value["error"]["code"].as_str().map(str::to_owned),
        marker: marker(&value),
        stream: None,
    }
}

/// What a whole JSON body held, read as an Anthropic client reads it: a
/// message, or an error (`type: error`, the provider's code in
/// `error.provider_code`).
pub(crate) fn anthropic_json_body(bytes: &[u8]) -> BodyFacts {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return BodyFacts::default();
    };
    let error = &value["error"];
    BodyFacts {
        completion: value["type"] == "message" && value["content"].is_array(),
        error_shape: value["type"] == "error"
            && error["message"].is_string()
            && error["type"].is_string(),
        error_code: error["provider_code"].as_str().map(str::to_owned),
        marker: marker(&value),
        stream: None,
    }
}

fn marker(value: &Value) -> Vec<String> {
    value["signalbox"]["degraded"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads an SSE body as it arrives; [`Self::finish`] says what it held.
#[derive(Debug, Default)]
pub(crate) struct SseReader {
    buffer: Vec<u8>,
    facts: StreamFacts,
    marker: Vec<String>,
    /// Anthropic's events (`message_stop` ends it, `message_delta` carries
    /// the stop reason, an `error` event the failure).
    anthropic: bool,
}

impl SseReader {
    /// A reader of OpenAI's events, or of Anthropic's.
    pub(crate) fn new(anthropic: bool) -> Self {
        Self {
            anthropic,
            ..Self::default()
        }
    }

    /// Feeds a chunk of the body.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
        while let Some(end) = find_blank_line(&self.buffer) {
            let event: Vec<u8> = self.buffer.drain(..end).collect();
            self.event(&String::from_utf8_lossy(&event));
        }
    }

    fn event(&mut self, event: &str) {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .collect();
        if data.is_empty() {
            return;
        }
        let data = data.join("\n");
        if data == "[DONE]" {
            self.facts.done = true;
            return;
        }
        let Ok(value) = serde_json::from_str::<Value>(&data) else {
            self.facts.unreadable_event = true;
            return;
        };
        if self.facts.events == 0 {
            self.marker = marker(&value);
        }
        self.facts.events += 1;
        if self.anthropic {
            return self.anthropic_event(&value);
        }
        if value.get("error").is_some_and(|e| !e.is_null()) {
            self.facts.error_event = true;
        }
        let finished = value["choices"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| !c["finish_reason"].is_null()));
        self.facts.finished |= finished;
    }

    fn anthropic_event(&mut self, value: &Value) {
        match value["type"].as_str() {
            Some("message_stop") => self.facts.done = true,
            Some("message_delta") => {
                self.facts.finished |= !value["delta"]["stop_reason"].is_null();
            }
            Some("error") => self.facts.error_event = true,
            _ => {}
        }
    }

    /// What the stream held; `broke` when the body did not end cleanly.
    pub(crate) fn finish(mut self, broke: bool) -> BodyFacts {
        if !self.buffer.is_empty() {
            // An unterminated last event still counts for what it says.
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buffer)).into_owned();
            self.event(&rest);
        }
        self.facts.broke = broke;
        BodyFacts {
            completion: false,
            error_shape: false,
            error_code: None,
            marker: self.marker,
            stream: Some(self.facts),
        }
    }
}

/// The end of the first event (past its blank line), if one is complete.
fn find_blank_line(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&str], broke: bool) -> BodyFacts {
        let mut r = SseReader::default();
        for c in chunks {
            r.feed(c.as_bytes());
        }
        r.finish(broke)
    }

    #[test]
    fn a_whole_marked_stream_across_chunk_boundaries() {
        let first = r#"data: {"choices":[{"delta":{"content":"a"}}],"signalbox":{"degraded":["fallback-route"]}}"#;
        let body = read(
            &[
                &first[..20],
                &format!("{}\n\n", &first[20..]),
                "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
            ],
            false,
        );
        let s = body.stream.unwrap_or_default();
        assert_eq!(
            (s.events, s.done, s.finished, s.error_event, s.broke),
            (2, true, true, false, false)
        );
        assert_eq!(body.marker, ["fallback-route"]);
    }

    #[test]
    fn error_events_bad_events_and_breaks_are_seen() {
        let body = read(
            &[
                "data: {\"choices\":[]}\n\n",
                "data: {nope\n\n",
                "data: {\"error\":{\"message\":\"x\"}}\n\n",
            ],
            true,
        );
        let s = body.stream.unwrap_or_default();
        assert!(s.error_event && s.unreadable_event && s.broke && !s.done);
    }

    #[test]
    fn json_bodies_are_judged_by_shape() {
        let ok = json_body(br#"{"choices":[{"message":{"content":"hi"}}],"signalbox":{"degraded":["smaller-model"]}}"#);
        assert!(ok.completion && !ok.error_shape);
        assert_eq!(ok.marker, ["smaller-model"]);
        let err = json_body(br#"{"error":{"message":"down","type":"upstream_error"}}"#);
        assert!(err.error_shape && !err.completion);
        assert_eq!(json_body(b"{nope"), BodyFacts::default());
    }

    #[test]
    fn anthropic_streams_and_bodies_are_read_as_an_anthropic_client_reads_them() {
        let mut r = SseReader::new(true);
        r.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"signalbox\":{\"degraded\":[\"fallback-route\"]}}\n\n");
        r.feed(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n");
        r.feed(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        let b = r.finish(false);
        let s = b.stream.unwrap_or_default();
        assert!(s.done && s.finished && !s.error_event && !s.broke);
        assert_eq!(b.marker, ["fallback-route"]);
        let mut cut = SseReader::new(true);
        cut.feed(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}\n\n");
        let s = cut.finish(false).stream.unwrap_or_default();
        assert!(s.error_event && !s.done);
        let err = anthropic_json_body(
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"no","provider_code":"content_filter"}}"#,
        );
        assert!(err.error_shape && !err.completion);
        assert_eq!(err.error_code.as_deref(), Some("content_filter"));
        let ok =
            anthropic_json_body(br#"{"type":"message","content":[{"type":"text","text":"hi"}]}"#);
        assert!(ok.completion && !ok.error_shape);
    }
}
