//! Owns checking a streamed structured output (`response_format:
//! json_schema` with `stream: true`) before any of it reaches the caller.
//! A stream's text can only be checked whole, and once its first byte has
//! left the gateway no other route may serve: so such a stream is read to
//! its end here, its answer's text checked against the schema, and only
//! then given back to the dispatcher to replay, whose commit point is the
//! replay's first event. An answer that is not JSON, does not match, or
//! ends before its finish is a bad answer, and the next eligible route is
//! tried, exactly as for a JSON answer. The price is time to first byte:
//! the caller gets the first event when the whole answer has arrived.
//! A Responses or Anthropic stream passed on as written is read by its
//! typed events (text deltas, refusal, its end), an OpenAI one by its
//! chunks.
//!
//! The wait is bounded as a committed stream's is: the first chunk within
//! the first-token deadline, then no silence longer than `idle`, the
//! whole body within `total` (the upstream body's own deadline), and at
//! most [`MAX_RESPONSE_BYTES`] buffered.

use futures::StreamExt;
use jsonschema::Validator;
use serde::Deserialize;
use signalbox_config::Timeouts;
use signalbox_core::WireFormat;
use signalbox_core::canonical::StreamEvent;

use super::{bad, check_text};
use crate::chunk::{ByteStream, Chunk};
use crate::sse::SseFramer;
use crate::{MAX_RESPONSE_BYTES, UpstreamError};

/// What a stream said so far: its text (choice 0), whether it is exempt
/// from the check (a refusal, or a tool call: the schema constrains a text
/// answer), whether it finished.
#[derive(Debug, Default)]
struct Said {
    text: String,
    exempt: bool,
    finished: bool,
}

impl Said {
    /// One OpenAI chunk passed on as written (`data: [DONE]` included).
    fn chunk(&mut self, data: &str) {
        #[derive(Deserialize)]
        struct Chunk {
            #[serde(default)]
            choices: Vec<Choice>,
        }
        #[derive(Deserialize)]
        struct Choice {
            #[serde(default)]
            index: u32,
            #[serde(default)]
            delta: Option<Delta>,
            #[serde(default)]
            finish_reason: Option<String>,
        }
        #[derive(Deserialize)]
        struct Delta {
            #[serde(default)]
            content: Option<String>,
            #[serde(default)]
            refusal: Option<String>,
            #[serde(default)]
            tool_calls: Option<serde::de::IgnoredAny>,
        }
        if data == "[DONE]" {
            self.finished = true;
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Chunk>(data) else {
            return; // checked below: its text is then not the schema's JSON
        };
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                self.text
                    .push_str(delta.content.as_deref().unwrap_or_default());
                self.exempt |= delta.refusal.is_some() || delta.tool_calls.is_some();
            }
            self.finished |= choice.finish_reason.is_some();
        }
    }

    /// One event passed on as written, in its wire `format`: an OpenAI
    /// chunk, or a Responses or Anthropic event read for its text.
    fn wire_event(&mut self, format: WireFormat, data: &str) {
        use signalbox_adapters::structured::text::{self, TextEvent};
        let event = match format {
            WireFormat::Responses => text::responses_event(data),
            WireFormat::Anthropic => text::anthropic_event(data),
            WireFormat::OpenAi | WireFormat::Completions | WireFormat::Embeddings => {
                return self.chunk(data);
            }
        };
        match event {
            TextEvent::Text(t) => self.text.push_str(&t),
            TextEvent::Refusal | TextEvent::ToolCall => self.exempt = true,
            TextEvent::Finished => self.finished = true,
            TextEvent::Other => {}
        }
    }

    /// Decoded events.
    fn events(&mut self, events: &[StreamEvent]) {
        for event in events {
            match event {
                StreamEvent::TextDelta { choice: 0, text } => self.text.push_str(text),
                StreamEvent::Stop { choice: 0, .. } => self.finished = true,
                StreamEvent::ToolCallStart { choice: 0, .. } => self.exempt = true,
                _ => {}
            }
        }
    }
}

/// Reads `stream` whole, checks its answer against `schema`, and gives it
/// back as a stream that replays what was read. `framer` frames a stream
/// passed on as written (capped at the provider's event size), whose
/// events are in `format` (the answer's wire format: OpenAI's, or the
/// Responses API's when passed through).
pub async fn check_stream(
    schema: &Validator,
    mut stream: ByteStream,
    mut framer: SseFramer,
    format: WireFormat,
    timeouts: &Timeouts,
) -> Result<ByteStream, UpstreamError> {
    let mut kept: Vec<Chunk> = Vec::new();
    let mut said = Said::default();
    let mut size = 0usize;
    let mut wait = timeouts.first_byte.min(timeouts.first_token);
    loop {
        let next = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => return Err(UpstreamError::timeout("structured-stream", wait)),
            Ok(None) => break,
            Ok(Some(item)) => item?,
        };
        wait = timeouts.idle;
        match &next {
            Chunk::Data(bytes) => {
                size += bytes.len();
                framer.push(bytes);
                while let Some(ev) = framer.next_event().map_err(|e| bad(&e.to_string()))? {
                    said.wire_event(format, &ev.data);
                }
            }
            Chunk::Events(events) => {
                size += events.len() * std::mem::size_of::<StreamEvent>();
                said.events(events);
            }
        }
        if size > MAX_RESPONSE_BYTES {
            return Err(bad(&format!(
                "the structured stream is larger than {MAX_RESPONSE_BYTES} bytes, the most checked before release"
            )));
        }
        kept.push(next);
    }
    if !said.finished {
        return Err(bad(
            "the stream ended before its answer finished, so it cannot be checked against its response schema",
        ));
    }
    if !said.exempt {
        check_text(schema, &said.text, "streamed answer")?;
    }
    Ok(futures::stream::iter(kept.into_iter().map(Ok)).boxed())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use signalbox_core::OutcomeClass;
    use signalbox_core::canonical::StopReason;

    use super::*;

    fn schema() -> Validator {
        let schema = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}},
            "required": ["n"]});
        jsonschema::validator_for(&schema).unwrap()
    }

    /// The bytes an OpenAI chunk with `content` makes.
    fn chunk(content: &str, finish: Option<&str>) -> Bytes {
        let data = serde_json::json!({"choices": [{"index": 0, "delta": {"content": content},
            "finish_reason": finish}]});
        Bytes::from(format!("data: {data}\n\n"))
    }

    fn of(chunks: Vec<Chunk>) -> ByteStream {
        futures::stream::iter(chunks.into_iter().map(Ok)).boxed()
    }

    async fn check(chunks: Vec<Chunk>) -> Result<Vec<Chunk>, UpstreamError> {
        let t = Timeouts::default();
        let out = check_stream(
            &schema(),
            of(chunks),
            SseFramer::new(),
            WireFormat::OpenAi,
            &t,
        )
        .await?;
        Ok(out.map(|c| c.unwrap()).collect().await)
    }

    #[tokio::test(start_paused = true)]
    async fn a_valid_stream_is_replayed_as_it_came() {
        // Split mid-event: framing is the checker's, the replay's bytes the provider's.
        let whole = [chunk("{\"n\"", None), chunk(": 3}", Some("stop"))].concat();
        let parts = vec![
            Chunk::Data(Bytes::copy_from_slice(&whole[..20])),
            Chunk::Data(Bytes::copy_from_slice(&whole[20..])),
        ];
        assert_eq!(check(parts.clone()).await.unwrap(), parts);
        let decoded = vec![Chunk::Events(vec![
            StreamEvent::TextDelta {
                choice: 0,
                text: "{\"n\": 1}".into(),
            },
            StreamEvent::Stop {
                choice: 0,
                reason: StopReason::Stop,
            },
        ])];
        assert_eq!(check(decoded.clone()).await.unwrap(), decoded);
    }

    #[tokio::test(start_paused = true)]
    async fn an_invalid_or_unfinished_stream_is_a_bad_answer_naming_why() {
        for (chunks, says) in [
            (
                vec![Chunk::Data(chunk("{\"n\": \"x\"}", Some("stop")))],
                "at `/n`",
            ),
            (
                vec![Chunk::Data(chunk("Sure! {", Some("stop")))],
                "not JSON",
            ),
            (
                vec![Chunk::Data(chunk("{\"n\": 1}", None))],
                "ended before its answer finished",
            ),
        ] {
            let err = check(chunks).await.unwrap_err();
            assert_eq!(err.class, OutcomeClass::BadResponse);
            assert!(err.detail.contains(says), "{}", err.detail);
        }
    }

    /// A Responses event's bytes, as OpenAI writes them.
    fn typed(data: serde_json::Value) -> Chunk {
        let name = data["type"].as_str().unwrap_or_default().to_owned();
        Chunk::Data(Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
    }

    #[tokio::test(start_paused = true)]
    async fn a_responses_stream_passed_through_is_read_by_its_typed_events() {
        let t = Timeouts::default();
        let run = |chunks: Vec<Chunk>| async move {
            check_stream(
                &schema(),
                of(chunks),
                SseFramer::new(),
                WireFormat::Responses,
                &t,
            )
            .await
            .map(|_| ())
        };
        let delta =
            |d: &str| typed(serde_json::json!({"type": "response.output_text.delta", "delta": d}));
        let done = || typed(serde_json::json!({"type": "response.completed", "response": {}}));
        assert!(
            run(vec![delta("{\"n\""), delta(": 2}"), done()])
                .await
                .is_ok()
        );
        let err = run(vec![delta("{\"n\": true}"), done()]).await.unwrap_err();
        assert!(err.detail.contains("at `/n`"), "{}", err.detail);
        let err = run(vec![delta("{\"n\": 2}")]).await.unwrap_err();
        assert!(
            err.detail.contains("ended before its answer finished"),
            "{}",
            err.detail
        );
        let refusal = typed(serde_json::json!({"type": "response.refusal.delta", "delta": "no"}));
        assert!(run(vec![refusal, done()]).await.is_ok());
        // A tool call is passed on unchecked: the schema is for the text.
        let call = typed(serde_json::json!({"type": "response.output_item.added",
            "item": {"type": "function_call", "name": "f"}}));
        assert!(run(vec![call, done()]).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_upstream_times_out_while_buffered() {
        let t = Timeouts::default();
        let silent: ByteStream = futures::stream::pending().boxed();
        let err = check_stream(&schema(), silent, SseFramer::new(), WireFormat::OpenAi, &t)
            .await
            .err()
            .unwrap();
        assert_eq!(err.class, OutcomeClass::Timeout);
    }
}
