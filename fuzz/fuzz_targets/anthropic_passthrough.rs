//! Upstream bytes on the Anthropic same-family path, which are passed on to
//! the client untranslated but still read: a non-streamed answer by
//! `anthropic::usage_of_message` (is it a message, what did it cost), and
//! each event of a stream, framed by `SseFramer`, by `anthropic::error_event`
//! (a first event that is an error fails over) and `anthropic::usage_of_event`
//! (usage folded across events), as `signalbox-providers` and the dispatcher
//! read them. OpenAI-compatible forwarded streams' first events go through
//! `UpstreamError::from_first_event` too.
//!
//! Input: byte 0 selects the mode (even: a non-streamed answer, the rest is
//! the body; odd: a stream, the rest goes through
//! `signalbox_fuzz::chunk_plan`: one byte `n % 8`, `n` chunk-size bytes,
//! then the payload).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use signalbox_adapters::anthropic;
use signalbox_core::Usage;
use signalbox_providers::{Scrubber, SseFramer, UpstreamError};

/// Built once: compiling the scrubber per input would dominate the run.
static SCRUBBER: LazyLock<Scrubber> = LazyLock::new(|| Scrubber::new(["sk-fuzz-0000"]));

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        std::hint::black_box(anthropic::usage_of_message(rest).ok());
        return;
    }
    let (sizes, payload) = signalbox_fuzz::chunk_plan(rest);
    let mut framer = SseFramer::new();
    let mut usage = Usage::default();
    let mut first = true;
    for chunk in signalbox_fuzz::chunks(&sizes, payload) {
        framer.push(chunk);
        // An event past the framer's cap ends the stream (Err), as in the gateway.
        while let Ok(Some(event)) = framer.next_event() {
            if first {
                first = false;
                std::hint::black_box(UpstreamError::from_first_event(&event.data, &SCRUBBER));
            }
            std::hint::black_box(anthropic::error_event(&event.data));
            anthropic::usage_of_event(&event.data, &mut usage);
        }
    }
    std::hint::black_box(usage);
});
