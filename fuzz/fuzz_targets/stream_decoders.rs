//! Streamed upstream answers: each adapter's `StreamDecoder`, fed in chunks
//! of fuzzer-chosen sizes, and the SSE framer on its own.
//!
//! Input: byte 0 selects the mode (modulo 7):
//!   0 OpenAI, 1 Anthropic, 2 Gemini (SSE: framed by `SseFramer`, then
//!     `on_sse(event, data)`);
//!   6 every other SSE adapter of the registry in turn (Azure, the strict
//!     OpenAI flavour, and any kind added since: Cohere, …);
//!   3 Bedrock raw bytes (`on_bytes`);
//!   4 Bedrock with valid frames: the payload is split at NUL bytes into
//!     messages `<kind><name>\x01<json>` (kind `e` event with `:event-type`
//!     name, `x` exception with `:exception-type` name, `r` error with
//!     `:error-code` name and `:error-message` json), each encoded with a
//!     correct prelude and CRCs, so the decoder gets past the checksums;
//!   5 `SseFramer` alone.
//! The rest goes through `signalbox_fuzz::chunk_plan`: one byte `n % 8`, `n`
//! chunk-size bytes, then the payload. Every decoded event is re-encoded
//! with the OpenAI and Anthropic client SSE encoders, as the gateway does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox_adapters::bedrock::{HeaderValue, encode_frame};
use signalbox_adapters::{Adapter, StreamDecoder, StreamEvent, anthropic, openai};
use signalbox_providers::SseFramer;

struct Sink<'a> {
    adapter: &'a Adapter,
    openai: openai::SseEncoder,
    anthropic: anthropic::SseEncoder,
}

impl Sink<'_> {
    /// Re-encodes decoded events; `false` on a decode error (the gateway
    /// ends the stream at the first one, so the fuzzer stops feeding too).
    fn take<E>(&mut self, events: Result<Vec<StreamEvent>, E>) -> bool {
        let Ok(events) = events else { return false };
        for event in &events {
            if let StreamEvent::Error { kind, message } = event {
                std::hint::black_box(self.adapter.classify_stream_error(kind, message));
            }
            std::hint::black_box(self.openai.encode(event));
            std::hint::black_box(self.anthropic.encode(event));
        }
        true
    }

    fn finish(mut self) {
        std::hint::black_box(self.openai.finish());
        std::hint::black_box(self.anthropic.finish());
    }
}

fn sse(adapter: &Adapter, sizes: &[usize], payload: &[u8]) {
    let mut decoder = adapter.stream_decoder();
    let mut sink = Sink {
        adapter,
        openai: openai::SseEncoder::new(1_700_000_000, true),
        anthropic: anthropic::SseEncoder::new(),
    };
    let mut framer = SseFramer::new();
    // Mirrors signalbox-providers' native stream translator: every framed
    // event (`[DONE]` included) goes to the decoder until the first error.
    for chunk in signalbox_fuzz::chunks(sizes, payload) {
        framer.push(chunk);
        // An event past the framer's cap ends the stream (Err), as in the gateway.
        while let Ok(Some(event)) = framer.next_event() {
            if !sink.take(decoder.on_sse(event.event.as_deref(), &event.data)) {
                sink.finish();
                return;
            }
        }
    }
    sink.take(decoder.finish());
    sink.finish();
}

fn bedrock(adapter: &Adapter, sizes: &[usize], body: &[u8]) {
    let mut decoder: StreamDecoder = adapter.stream_decoder();
    let mut sink = Sink {
        adapter,
        openai: openai::SseEncoder::new(1_700_000_000, false),
        anthropic: anthropic::SseEncoder::new(),
    };
    for chunk in signalbox_fuzz::chunks(sizes, body) {
        if !sink.take(decoder.on_bytes(chunk)) {
            sink.finish();
            return;
        }
    }
    sink.take(decoder.finish());
    sink.finish();
}

/// Encodes `<kind><name>\x01<json>` messages (NUL-separated) as valid frames.
fn frames(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in payload.split(|&b| b == 0) {
        let Some((&kind, rest)) = message.split_first() else {
            continue;
        };
        let (name, json) = match rest.iter().position(|&b| b == 1) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b"{}"[..]),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        let s = |v: &str| HeaderValue::String(v.to_owned());
        let headers = match kind {
            b'x' => vec![
                (":message-type", s("exception")),
                (":exception-type", s(&name)),
                (":content-type", s("application/json")),
            ],
            b'r' => vec![
                (":message-type", s("error")),
                (":error-code", s(&name)),
                (":error-message", s(&String::from_utf8_lossy(json))),
            ],
            _ => vec![
                (":message-type", s("event")),
                (":event-type", s(&name)),
                (":content-type", s("application/json")),
            ],
        };
        out.extend(encode_frame(&headers, json));
    }
    out
}

fn framer_alone(sizes: &[usize], payload: &[u8]) {
    let mut framer = SseFramer::new();
    let mut consumed = 0usize;
    for chunk in signalbox_fuzz::chunks(sizes, payload) {
        framer.push(chunk);
        // An event past the framer's cap ends the stream (Err), as in the gateway.
        while let Ok(Some(event)) = framer.next_event() {
            consumed += event.raw.len();
            std::hint::black_box((event.is_done(), event.is_comment_only()));
        }
    }
    let pending = framer.pending_len();
    // Every byte pushed is either in a dispatched event or still pending.
    assert_eq!(consumed + pending, payload.len(), "SseFramer lost or duplicated bytes");
    let rest = framer.take_pending();
    assert_eq!(rest.len(), pending);
    assert_eq!(framer.pending_len(), 0);
    assert!(matches!(framer.next_event(), Ok(None)));
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (sizes, payload) = signalbox_fuzz::chunk_plan(rest);
    let adapters = signalbox_fuzz::adapters();
    // Indices into `signalbox_fuzz::adapters()`.
    let (openai, anthropic, gemini, bedrock_adapter) =
        (&adapters[0], &adapters[3], &adapters[4], &adapters[5]);
    match sel % 7 {
        0 => sse(openai, &sizes, payload),
        1 => sse(anthropic, &sizes, payload),
        2 => sse(gemini, &sizes, payload),
        3 => bedrock(bedrock_adapter, &sizes, payload),
        4 => bedrock(bedrock_adapter, &sizes, &frames(payload)),
        5 => framer_alone(&sizes, payload),
        _ => {
            let named = [0, 3, 4, 5];
            for (i, adapter) in adapters.iter().enumerate() {
                if !named.contains(&i) && adapter.stream_decoder().is_sse() {
                    sse(adapter, &sizes, payload);
                }
            }
        }
    }
});
