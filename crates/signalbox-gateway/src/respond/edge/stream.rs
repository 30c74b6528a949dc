//! Owns a committed stream as the client reads it: every [`Piece`] the
//! dispatcher yields written in the client's wire format. Events passed on
//! as the provider wrote them go out as they are; decoded events are
//! encoded here, once (OpenAI chunks or Anthropic events); the end is the
//! client's end marker when the provider's did not pass; a cut is the
//! explicit error event of the client's format. Tokens the privacy
//! boundary issued are restored on the way, and a degraded answer's first
//! event carries the `signalbox` marker.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::json;
use signalbox_adapters::{anthropic, completions, openai, responses};
use signalbox_config::DegradeStep;
use signalbox_core::WireFormat;
use signalbox_core::canonical::StreamEvent;
use signalbox_dispatch::Piece;

use crate::privacy::StreamRestore;
use crate::respond::degraded::mark_first_event;

/// The JSON objects of SSE `bytes`' `data:` lines.
fn sse_data(bytes: &Bytes) -> Vec<serde_json::Value> {
    std::str::from_utf8(bytes)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// The end marker of an OpenAI stream.
const DONE: &[u8] = b"data: [DONE]\n\n";

/// What the stream's error event names.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// The request's id.
    pub request_id: String,
    /// The serving route.
    pub route: String,
}

/// A committed stream (its [`Piece`]s) written for its client.
pub(crate) struct EdgeStream<S> {
    inner: S,
    client: WireFormat,
    encoder: Encoder,
    /// Set when the stream's pieces are decoded events (not passed on).
    decoded: bool,
    /// The first events passed on as written: when decoded events follow
    /// them (a broken stream continued on another route), the encoder
    /// takes over that stream instead of starting a new one.
    first_wire: Option<Bytes>,
    restore: Option<StreamRestore>,
    /// The degradation steps to mark the first event with.
    mark: Option<Vec<DegradeStep>>,
    names: Names,
    ended: bool,
}

/// Writes decoded events in the client's format.
enum Encoder {
    OpenAi(openai::SseEncoder),
    Anthropic(anthropic::SseEncoder),
    Responses(responses::SseEncoder),
    Completions(completions::SseEncoder),
}

impl Encoder {
    fn encode(&mut self, event: &StreamEvent) -> Vec<u8> {
        match self {
            Self::OpenAi(e) => e.encode(event),
            Self::Anthropic(e) => e.encode(event),
            Self::Responses(e) => e.encode(event),
            Self::Completions(e) => e.encode(event),
        }
    }

    /// Takes over a stream whose `first` events went out as written.
    fn resume(&mut self, first: &Bytes) {
        let events = sse_data(first);
        match self {
            Self::OpenAi(e) => {
                let ids = events.iter().find(|v| v.get("id").is_some());
                let field = |k: &str| ids.and_then(|v| v[k].as_str()).unwrap_or_default();
                e.resume(field("id"), field("model"));
            }
            Self::Anthropic(e) => {
                let text_block = events
                    .iter()
                    .find(|v| {
                        v["type"] == "content_block_start" && v["content_block"]["type"] == "text"
                    })
                    .and_then(|v| v["index"].as_u64())
                    .and_then(|i| u32::try_from(i).ok());
                e.resume_in_text(text_block.unwrap_or(0));
            }
            Self::Responses(_) | Self::Completions(_) => {}
        }
    }

    fn finish(&mut self) -> Vec<u8> {
        match self {
            Self::OpenAi(e) => e.finish(),
            Self::Anthropic(e) => e.finish(),
            Self::Responses(e) => e.finish(),
            Self::Completions(e) => e.finish(),
        }
    }
}

impl<S> EdgeStream<S> {
    /// `inner` as a `client` reads it; `stream_usage`: an OpenAI client
    /// asked for the usage chunk.
    pub(crate) fn new(inner: S, client: WireFormat, stream_usage: bool, names: Names) -> Self {
        let now = signalbox_core::clock::unix_secs();
        let encoder = match client {
            // Embeddings never stream; OpenAI's encoder stands in.
            WireFormat::OpenAi | WireFormat::Embeddings => {
                Encoder::OpenAi(openai::SseEncoder::new(now, stream_usage))
            }
            WireFormat::Anthropic => Encoder::Anthropic(anthropic::SseEncoder::new()),
            WireFormat::Responses => Encoder::Responses(responses::SseEncoder::new(now)),
            WireFormat::Completions => {
                Encoder::Completions(completions::SseEncoder::new(now, stream_usage))
            }
        };
        Self {
            inner,
            client,
            encoder,
            decoded: false,
            first_wire: None,
            restore: None,
            mark: None,
            names,
            ended: false,
        }
    }

    /// Restores the privacy boundary's tokens in what goes out.
    pub(crate) fn restoring(mut self, restore: StreamRestore) -> Self {
        self.restore = Some(restore);
        self
    }

    /// Marks the first event with the degradation steps taken.
    pub(crate) fn marked(mut self, steps: &[DegradeStep]) -> Self {
        self.mark = (!steps.is_empty()).then(|| steps.to_vec());
        self
    }

    /// The bytes the client reads for one piece (possibly none).
    fn write(&mut self, piece: Piece) -> Bytes {
        let bytes = match piece {
            Piece::Wire(bytes) => {
                if self.first_wire.is_none() {
                    self.first_wire = Some(bytes.clone());
                }
                // Events passed on from here (a continuation's): the wire's end.
                self.decoded = false;
                self.wire(bytes)
            }
            Piece::Events(mut events) => {
                if !self.decoded
                    && let Some(first) = self.first_wire.take()
                {
                    self.encoder.resume(&first);
                }
                self.decoded = true;
                if let Some(r) = self.restore.as_mut() {
                    r.events(&mut events);
                }
                self.encode(&events)
            }
            Piece::End { marked } => self.end(marked),
            Piece::Cut(detail) => {
                self.ended = true;
                self.cut_event(&detail)
            }
        };
        match self.mark.take() {
            Some(steps) if !bytes.is_empty() => {
                mark_first_event(bytes, &steps, &self.names.request_id)
            }
            mark => {
                self.mark = mark;
                bytes
            }
        }
    }

    /// Events passed on as written; an OpenAI client's are restored (an
    /// Anthropic body is passed on only while nothing was tokenised).
    fn wire(&mut self, bytes: Bytes) -> Bytes {
        match self.restore.as_mut() {
            Some(r) if self.client == WireFormat::OpenAi => r.wire(bytes),
            _ => bytes,
        }
    }

    fn encode(&mut self, events: &[StreamEvent]) -> Bytes {
        let mut out = Vec::new();
        for event in events {
            out.extend(self.encoder.encode(event));
        }
        Bytes::from(out)
    }

    /// The client's end: what the restorer still holds, then the format's
    /// end marker unless the provider's already passed.
    fn end(&mut self, marked: bool) -> Bytes {
        self.ended = true;
        if !self.decoded {
            return match self.client {
                WireFormat::OpenAi if !marked => self.wire(Bytes::from_static(DONE)),
                _ => Bytes::new(),
            };
        }
        let tail = self
            .restore
            .as_mut()
            .map(StreamRestore::finish_events)
            .unwrap_or_default();
        let mut out = self.encode(&tail).to_vec();
        out.extend(self.encoder.finish());
        Bytes::from(out)
    }

    /// The explicit error event that ends a broken stream: OpenAI SDKs
    /// raise an API error when a data event carries an `error` object,
    /// Anthropic SDKs when an `error` event arrives.
    fn cut_event(&mut self, detail: &str) -> Bytes {
        let Names { request_id, route } = &self.names;
        let message = format!("stream interrupted: {detail} (request id {request_id})");
        match (&mut self.encoder, self.client) {
            (_, WireFormat::Anthropic) => {
                return crate::respond::anthropic::cut_event(&message, request_id, route);
            }
            (Encoder::Responses(e), _) => {
                let names = json!({ "signalbox": { "request_id": request_id, "route": route } });
                return Bytes::from(e.error("stream_interrupted", &message, names));
            }
            _ => {}
        }
        let body = json!({
            "error": {
                "message": message,
                "type": "upstream_error",
                "code": "stream_interrupted",
                "param": null,
            },
            "signalbox": { "request_id": request_id, "route": route },
        });
        Bytes::from(format!("data: {body}\n\n"))
    }
}

impl<S: Stream<Item = Piece> + Unpin> Stream for EdgeStream<S> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let piece = match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(piece)) => piece,
                Poll::Ready(None) => return Poll::Ready(None),
            };
            let bytes = this.write(piece);
            if !bytes.is_empty() {
                return Poll::Ready(Some(Ok(bytes)));
            }
        }
    }
}

#[cfg(test)]
mod tests;
