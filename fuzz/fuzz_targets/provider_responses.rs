//! Upstream (non-streamed) answers: `Adapter::parse_response` and
//! `Adapter::parse_error` for every adapter.
//!
//! Input: byte 0 selects the adapter (low nibble, modulo the adapter count)
//! and the HTTP status for `parse_error` (high nibble, an index into
//! `STATUSES`); the rest is the response body. A parsed response is also
//! rendered back to the OpenAI and Anthropic client formats.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

const STATUSES: [u16; 16] = [
    200, 400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529, 0, 999,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let adapters = signalbox_fuzz::adapters();
    let adapter = &adapters[usize::from(sel & 0x0f) % adapters.len()];
    let status = STATUSES[usize::from(sel >> 4)];

    if let Ok(resp) = adapter.parse_response(body) {
        signalbox_fuzz::render_response(&resp);
    }
    std::hint::black_box(adapter.parse_error(status, &HeaderMap::new(), body));

    // Bedrock reads the error kind from a header: give it one, derived from
    // the body's first line when that is valid header text.
    let mut headers = HeaderMap::new();
    let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    let kind = HeaderValue::from_bytes(first_line)
        .unwrap_or(HeaderValue::from_static("ThrottlingException"));
    headers.insert("x-amzn-errortype", kind);
    std::hint::black_box(adapter.parse_error(status, &headers, body));
});
