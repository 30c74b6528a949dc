//! `signalbox_core::ChatRequest`: the pass-through (OpenAI-shaped) request
//! parser and everything derived from a parsed request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox_core::ChatRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = ChatRequest::parse(data) else {
        return;
    };
    std::hint::black_box(req.to_upstream_json("m"));
    std::hint::black_box(req.upstream_json("m", true));
    if let Some(stripped) = req.without_tools() {
        std::hint::black_box(stripped.to_upstream_json("m"));
    }
    if let Some(reduced) = req.reduce_context(|_| false) {
        std::hint::black_box(reduced.upstream_json("m", false));
    }
    // A predicate that accepts only small bodies exercises partial reduction.
    if let Some(reduced) = req.reduce_context(|r| r.to_upstream_json("m").len() < 256) {
        std::hint::black_box(reduced.to_upstream_json("m"));
    }
});
