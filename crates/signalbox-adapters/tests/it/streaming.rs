//! Streams split at every byte boundary decode to the same events, and the
//! client-side encoders read back as what they were given.

use proptest::prelude::*;
use signalbox_adapters::anthropic::{self, AnthropicAdapter};
use signalbox_adapters::gemini::GeminiAdapter;
use signalbox_adapters::openai::{self, OpenAiAdapter, OpenAiQuirks};
use signalbox_adapters::{Adapter, Secret, StopReason, StreamDecoder, StreamEvent, Usage};

use crate::{decode, fixture};

fn decoders() -> Vec<(&'static str, Adapter)> {
    vec![
        (
            "openai/stream_tool_call.sse",
            Adapter::new(OpenAiAdapter {
                base_url: String::new(),
                api_key: None,
                quirks: OpenAiQuirks::default(),
            }),
        ),
        (
            "anthropic/stream_tool_use.sse",
            Adapter::new(AnthropicAdapter {
                base_url: String::new(),
                api_key: Some(Secret::new("k")),
            }),
        ),
        (
            "gemini/stream_text.sse",
            Adapter::new(GeminiAdapter {
                base_url: String::new(),
                api_version: "v1beta".into(),
                api_key: Some(Secret::new("k")),
            }),
        ),
    ]
}

#[test]
fn every_single_split_decodes_the_same() {
    for (path, adapter) in decoders() {
        let bytes = fixture(path).into_bytes();
        let whole = decode(adapter.stream_decoder(), &bytes, &[]);
        assert!(whole.len() > 3, "{path}");
        for cut in 0..=bytes.len() {
            assert_eq!(
                decode(adapter.stream_decoder(), &bytes, &[cut]),
                whole,
                "{path} cut at {cut}"
            );
        }
        let crlf = String::from_utf8(bytes.clone())
            .unwrap()
            .replace('\n', "\r\n");
        assert_eq!(
            decode(adapter.stream_decoder(), crlf.as_bytes(), &[7, 300]),
            whole,
            "{path} with CRLF"
        );
    }
}

proptest! {
    #[test]
    fn any_splits_decode_the_same(cuts in proptest::collection::vec(0usize..4000, 0..40)) {
        for (path, adapter) in decoders() {
            let bytes = fixture(path).into_bytes();
            prop_assert_eq!(decode(adapter.stream_decoder(), &bytes, &cuts), decode(adapter.stream_decoder(), &bytes, &[]));
        }
    }
}

/// A canonical stream with text, two tool calls with partial JSON, stop and usage.
fn canonical() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Start {
            id: "r1".into(),
            model: "m".into(),
        },
        StreamEvent::TextDelta {
            choice: 0,
            text: "Checking ".into(),
        },
        StreamEvent::TextDelta {
            choice: 0,
            text: "both.".into(),
        },
        StreamEvent::ToolCallStart {
            choice: 0,
            index: 0,
            id: "c1".into(),
            name: "weather".into(),
        },
        StreamEvent::ToolCallDelta {
            choice: 0,
            index: 0,
            arguments: "{\"city\":".into(),
        },
        StreamEvent::ToolCallDelta {
            choice: 0,
            index: 0,
            arguments: "\"Paris\"}".into(),
        },
        StreamEvent::ToolCallStart {
            choice: 0,
            index: 1,
            id: "c2".into(),
            name: "weather".into(),
        },
        StreamEvent::ToolCallDelta {
            choice: 0,
            index: 1,
            arguments: "{\"city\":\"Oslo\"}".into(),
        },
        StreamEvent::Stop {
            choice: 0,
            reason: StopReason::ToolCalls,
        },
        StreamEvent::Usage(Usage {
            input_tokens: 10,
            output_tokens: 20,
        }),
    ]
}

#[test]
fn openai_encoder_reads_back() {
    let mut enc = openai::SseEncoder::new(1, true);
    let mut bytes: Vec<u8> = canonical().iter().flat_map(|e| enc.encode(e)).collect();
    bytes.extend(enc.finish());
    assert!(bytes.ends_with(b"data: [DONE]\n\n"));
    let dec = StreamDecoder::new(openai::ChunkDecoder::new());
    assert_eq!(decode(dec, &bytes, &[]), canonical());
    let mut quiet = openai::SseEncoder::new(1, false);
    assert!(
        quiet
            .encode(&StreamEvent::Usage(Usage::default()))
            .is_empty()
    );
}

#[test]
fn anthropic_encoder_reads_back_with_the_event_sequence() {
    let mut enc = anthropic::SseEncoder::new();
    let mut bytes: Vec<u8> = canonical().iter().flat_map(|e| enc.encode(e)).collect();
    bytes.extend(enc.finish());
    let text = String::from_utf8(bytes.clone()).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let back = decode(
        StreamDecoder::new(anthropic::EventDecoder::new()),
        &bytes,
        &[],
    );
    assert_eq!(back, canonical());
}

#[test]
fn anthropic_encoder_holds_stop_until_usage_or_finish() {
    let mut enc = anthropic::SseEncoder::new();
    let mut bytes = enc.encode(&StreamEvent::TextDelta {
        choice: 0,
        text: "hi".into(),
    });
    bytes.extend(enc.encode(&StreamEvent::Stop {
        choice: 0,
        reason: StopReason::Length,
    }));
    assert!(!String::from_utf8_lossy(&bytes).contains("message_delta"));
    bytes.extend(enc.finish());
    let back = decode(
        StreamDecoder::new(anthropic::EventDecoder::new()),
        &bytes,
        &[],
    );
    assert!(back.contains(&StreamEvent::Stop {
        choice: 0,
        reason: StopReason::Length
    }));
    assert!(enc.finish().is_empty(), "finish is idempotent");
}
