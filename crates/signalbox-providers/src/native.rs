//! Owns the native (non-OpenAI) wire formats at egress: building a
//! provider's [`Adapter`] from its configuration, and decoding a stream the
//! client does not read as it is (a native provider's, or an
//! OpenAI-compatible one's for an Anthropic client) into typed events.
//!
//! Streams are decoded event by event as they arrive: upstream bytes →
//! SSE framing (or AWS event-stream frames for Bedrock) → canonical
//! [`StreamEvent`]s, handed on as [`Chunk::Events`] for the gateway's edge
//! to encode in the client's format. Nothing is buffered beyond one
//! upstream chunk, so time to first byte is kept. The stream ends cleanly
//! only when the provider ended its answer properly (a stop reason); a
//! provider error event becomes a classified [`UpstreamError`] (before the
//! commit point this fails over, after it the dispatcher ends the stream
//! with an explicit error event).

use std::collections::VecDeque;

use futures::StreamExt;
use signalbox_adapters::bedrock::AwsCredentials;
use signalbox_adapters::{
    Adapter, AwsEndpoint, Endpoint, ProviderFormat, StreamDecoder, StreamError, StreamEvent,
};
use signalbox_config::ProviderConfig;
use signalbox_core::OutcomeClass;

use crate::UpstreamError;
use crate::chunk::{ByteStream, Chunk};
use crate::scrub::Scrubber;
use crate::sse::SseFramer;
use std::sync::Arc;

/// The adapter for a provider, from its kind's format, or `None` for the
/// OpenAI-compatible kind when it declares no quirks (that path forwards
/// the caller's body without translating it).
pub(crate) fn adapter_for(cfg: &ProviderConfig) -> Option<Adapter> {
    let endpoint = Endpoint {
        base_url: cfg.base_url.clone(),
        api_key: cfg.api_key.clone(),
        api_version: cfg.api_version.clone(),
        quirks: cfg.quirks.clone(),
        aws: cfg.aws.as_ref().map(|aws| AwsEndpoint {
            region: aws.region.clone(),
            credentials: AwsCredentials {
                access_key_id: aws.access_key_id.expose().to_owned(),
                secret_access_key: aws.secret_access_key.clone(),
                session_token: aws.session_token.clone(),
            },
        }),
    };
    signalbox_adapters::format_of(cfg.kind).adapter(&endpoint)
}

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn unix_now() -> u64 {
    signalbox_core::clock::unix_secs()
}

/// A provider's stream being decoded into typed events.
struct Decoding {
    format: &'static dyn ProviderFormat,
    /// Cleans a provider's error event before it becomes an error.
    scrubber: Arc<Scrubber>,
    framer: SseFramer,
    decoder: StreamDecoder,
    /// The provider said why its answer stopped (its proper end).
    stopped: bool,
    /// Events and failures ready for the consumer.
    out: VecDeque<Result<Chunk, UpstreamError>>,
    ended: bool,
}

/// Wraps a streamed body in `format`'s wire format so that it yields
/// typed events. One upstream event (SSE event or Bedrock message) longer
/// than `max_event_bytes` fails the stream.
pub(crate) fn decode_stream(
    format: &'static dyn ProviderFormat,
    body: ByteStream,
    scrubber: Arc<Scrubber>,
    max_event_bytes: usize,
) -> ByteStream {
    let decoder = format
        .stream_decoder()
        .with_max_event_bytes(max_event_bytes);
    let state = Decoding {
        format,
        scrubber,
        framer: SseFramer::with_max_event_bytes(max_event_bytes),
        decoder,
        stopped: false,
        out: VecDeque::new(),
        ended: false,
    };
    futures::stream::unfold((state, body), |(mut st, mut body)| async move {
        loop {
            if let Some(item) = st.out.pop_front() {
                return Some((item, (st, body)));
            }
            if st.ended {
                return None;
            }
            match body.next().await {
                Some(Ok(Chunk::Data(chunk))) => st.on_chunk(&chunk),
                // The raw body carries no decoded events.
                Some(Ok(Chunk::Events(_))) => {}
                Some(Err(e)) => st.fail(e),
                None => st.on_end(),
            }
        }
    })
    .boxed()
}

impl Decoding {
    fn on_chunk(&mut self, chunk: &[u8]) {
        let decoded = if self.decoder.is_sse() {
            self.framer.push(chunk);
            self.sse_events()
        } else {
            self.decoder.on_bytes(chunk)
        };
        match decoded {
            Ok(events) => self.hand_on(events),
            Err(e) => self.fail(bad_stream(&e)),
        }
    }

    /// Decodes every complete SSE event in the framer.
    fn sse_events(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        let mut all = Vec::new();
        while let Some(ev) = self
            .framer
            .next_event()
            .map_err(|e| StreamError::TooLarge { limit: e.limit })?
        {
            all.extend(self.decoder.on_sse(ev.event.as_deref(), &ev.data)?);
        }
        Ok(all)
    }

    /// Hands the events on, up to a provider error event, which fails the
    /// stream (the events before it still go out).
    fn hand_on(&mut self, mut events: Vec<StreamEvent>) {
        let error = events
            .iter()
            .position(|e| matches!(e, StreamEvent::Error { .. }));
        let failure = error.and_then(|at| match &events[at] {
            StreamEvent::Error { kind, message } => Some(self.error_event(kind, message)),
            _ => None,
        });
        if let Some(at) = error {
            events.truncate(at);
        }
        self.stopped |= events.iter().any(|e| matches!(e, StreamEvent::Stop { .. }));
        if !events.is_empty() {
            self.out.push_back(Ok(Chunk::Events(events)));
        }
        if let Some(err) = failure {
            self.fail(err);
        }
    }

    fn error_event(&self, kind: &str, message: &str) -> UpstreamError {
        error_event(self.format, &self.scrubber, kind, message)
    }

    fn on_end(&mut self) {
        match self.decoder.finish() {
            Ok(events) => self.hand_on(events),
            Err(e) => return self.fail(bad_stream(&e)),
        }
        if self.ended {
            return;
        }
        if !self.stopped {
            self.fail(UpstreamError::new(
                OutcomeClass::BadResponse,
                format!(
                    "{} stream ended before the answer's end",
                    self.format.name()
                ),
            ));
            return;
        }
        self.ended = true;
    }

    fn fail(&mut self, err: UpstreamError) {
        self.out.push_back(Err(err));
        self.ended = true;
    }
}

/// A provider's error event as a classified failure, its texts scrubbed
/// before they are shortened.
pub(crate) fn error_event(
    format: &dyn ProviderFormat,
    s: &Scrubber,
    kind: &str,
    message: &str,
) -> UpstreamError {
    let e = format.classify_stream_error(kind, message);
    let mut err = UpstreamError::new(
        e.class,
        format!(
            "{} stream error {}: {}",
            e.provider,
            crate::classify::truncate(&s.scrub(kind), 100),
            crate::classify::truncate(&s.scrub(message), 300)
        ),
    );
    err.provider_error = s.ids(e.ids);
    s.error(err)
}

fn bad_stream(e: &StreamError) -> UpstreamError {
    UpstreamError::new(
        OutcomeClass::BadResponse,
        format!("upstream stream could not be read: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use signalbox_adapters::canonical::{StopReason, Usage};

    const ANSWER: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo ✓\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    /// Runs `body` (split into `chunks`) through the translator.
    async fn run(chunks: Vec<Vec<u8>>) -> Vec<Result<Chunk, UpstreamError>> {
        let body =
            futures::stream::iter(chunks.into_iter().map(|c| Ok(Chunk::Data(Bytes::from(c)))))
                .boxed();
        let scrubber = Arc::new(Scrubber::new(["sk-ant-echoed-secret-value"]));
        decode_stream(
            &signalbox_adapters::anthropic::FORMAT,
            body,
            scrubber,
            1 << 20,
        )
        .collect()
        .await
    }

    /// The events decoded, in order, up to the first failure.
    fn events_of(out: &[Result<Chunk, UpstreamError>]) -> Vec<StreamEvent> {
        out.iter()
            .map_while(|c| c.as_ref().ok())
            .flat_map(|c| match c {
                Chunk::Events(events) => events.clone(),
                Chunk::Data(_) => Vec::new(),
            })
            .collect()
    }

    fn text_of(events: &[StreamEvent]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn decoding_is_the_same_at_every_split_point() {
        let bytes = ANSWER.as_bytes();
        for split in 1..bytes.len() {
            let out = run(vec![bytes[..split].to_vec(), bytes[split..].to_vec()]).await;
            assert!(out.iter().all(Result::is_ok), "split at {split}: {out:?}");
            let events = events_of(&out);
            assert_eq!(text_of(&events), "Hello ✓", "split at {split}");
            let stop = StreamEvent::Stop {
                choice: 0,
                reason: StopReason::Stop,
            };
            assert!(events.contains(&stop), "split at {split}: {events:?}");
            // Usage is an event, the answer's whole usage.
            let usage = StreamEvent::Usage(Usage {
                input_tokens: 7,
                output_tokens: 3,
            });
            assert!(events.contains(&usage), "split at {split}: {events:?}");
        }
    }

    #[tokio::test]
    async fn a_stream_cut_before_its_stop_is_a_failure_not_done() {
        let cut = ANSWER.find("event: message_delta").unwrap();
        let out = run(vec![ANSWER.as_bytes()[..cut].to_vec()]).await;
        let last = out.last().unwrap();
        let err = last.as_ref().unwrap_err();
        assert_eq!(err.class, OutcomeClass::BadResponse);
        let events = events_of(&out);
        assert_eq!(text_of(&events), "Hello ✓");
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::Stop { .. })));
    }

    #[tokio::test]
    async fn an_event_past_the_cap_fails_the_stream_without_holding_it() {
        let start = ANSWER.find("event: content_block_delta").unwrap();
        let mut chunks = vec![ANSWER.as_bytes()[..start].to_vec()];
        // 2 MiB of one event that never ends, against a 1 MiB cap.
        chunks.push(b"event: content_block_delta\ndata: {\"x\":\"".to_vec());
        chunks.extend(std::iter::repeat_n(vec![b'a'; 64 * 1024], 32));
        let out = run(chunks).await;
        let err = out.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.class, OutcomeClass::BadResponse);
        assert!(
            err.detail.contains("larger than 1048576 bytes"),
            "{}",
            err.detail
        );
        // Only what came before the long event was translated; it stopped there.
        let ok = out.iter().filter(|r| r.is_ok()).count();
        assert!(ok >= 1 && out.len() == ok + 1, "{out:?}");
    }

    #[tokio::test]
    async fn a_provider_error_event_is_a_classified_failure() {
        let body = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n\
event: error\n\
data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let out = run(vec![body.as_bytes().to_vec()]).await;
        let err = out.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.class, OutcomeClass::ServerError, "{err:?}");
        assert!(err.detail.contains("overloaded_error"), "{}", err.detail);
        let ids = err.provider_error.as_ref().unwrap();
        assert_eq!(ids.kind.as_deref(), Some("overloaded_error"));
    }

    #[tokio::test]
    async fn an_error_event_echoing_a_credential_is_scrubbed() {
        let body = "event: error\n\
data: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"you sent x-api-key: sk-ant-echoed-secret-value\"}}\n\n";
        let out = run(vec![body.as_bytes().to_vec()]).await;
        let err = out.last().unwrap().as_ref().unwrap_err();
        assert!(!err.detail.contains("echoed-secret"), "{}", err.detail);
        assert!(err.detail.contains("[redacted]"), "{}", err.detail);
    }
}
