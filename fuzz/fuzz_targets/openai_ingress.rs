//! OpenAI chat-completions ingress: `openai::parse_request`, then rendering
//! the canonical request for every egress adapter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = signalbox_adapters::openai::parse_request(data) {
        signalbox_fuzz::render_all(&req);
    }
});
