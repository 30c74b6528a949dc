//! Prompt-token estimation on the hot path: `estimate_prompt` on chat bodies
//! of 1 KiB, 32 KiB and 512 KiB of message text, and on 1 MiB of each
//! adversarial text (one long run of spaces, of one letter, text without
//! spaces, random characters, CJK without punctuation, emoji, a repeated
//! multi-character pattern), which a naive tokenizer merges as one huge
//! pre-token.
//!
//! Run: `cargo bench -p signalbox-policy --bench tokens`
//! (`-- adversarial` for the adversarial group only).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use signalbox_policy::tokens::{CharApprox, estimate_prompt, estimate_with, warm};

/// Words of varied length and kind (prose, code, numbers, non-ASCII) so the
/// tokenizer's piece cache sees a realistic mix rather than one repeated word.
const WORDS: &[&str] = &[
    "the",
    "gateway",
    "routes",
    "each",
    "request",
    "to",
    "a",
    "provider",
    "whose",
    "context",
    "window",
    "fits",
    "prompt,",
    "and",
    "fails",
    "over",
    "when",
    "upstream",
    "returns",
    "429.",
    "fn",
    "main()",
    "{",
    "let",
    "x",
    "=",
    "vec![1,",
    "2,",
    "3];",
    "}",
    "println!(\"{x:?}\");",
    "Kubernetes",
    "latency",
    "p99",
    "1024",
    "3.14159",
    "naïve",
    "café",
    "Straße",
    "東京",
    "データ",
    "résumé",
    "https://example.invalid/a/b?c=d",
    "\n",
    "\n\n",
    "-",
    "*",
    "#",
    "unbelievably",
    "internationalization",
    "supercalifragilistic",
    "the",
    "of",
    "is",
];

/// Deterministic text of about `bytes` bytes.
fn text(bytes: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut out = String::with_capacity(bytes + 64);
    while out.len() < bytes {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let index = usize::try_from(state >> 33).unwrap_or(0) % WORDS.len();
        out.push_str(WORDS[index]);
        out.push(' ');
    }
    out
}

/// A conversation with `total` bytes of message text: a system prompt, then
/// user/assistant turns of at most 8 KiB each.
fn chat_body(total: usize) -> Map<String, Value> {
    let system = (total / 8).clamp(64, 4096);
    let mut messages = vec![json!({"role": "system", "content": text(system, 0)})];
    let mut left = total.saturating_sub(system);
    let mut turn = 1u64;
    while left > 0 {
        let size = left.min(8 * 1024);
        let role = if turn % 2 == 1 { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": text(size, turn)}));
        left -= size;
        turn += 1;
    }
    let mut body = Map::new();
    body.insert("model".to_owned(), json!("gpt-4o"));
    body.insert("messages".to_owned(), Value::Array(messages));
    body
}

fn bench_estimate(c: &mut Criterion) {
    // Startup cost, paid once by the gateway.
    warm();
    let mut group = c.benchmark_group("estimate_prompt");
    for (label, bytes) in [("1KiB", 1024), ("32KiB", 32 * 1024), ("512KiB", 512 * 1024)] {
        let body = chat_body(bytes);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::new("o200k", label), &body, |b, body| {
            b.iter(|| estimate_prompt(black_box(body)));
        });
        group.bench_with_input(BenchmarkId::new("chars4", label), &body, |b, body| {
            b.iter(|| estimate_with(&CharApprox, black_box(body)));
        });
    }
    group.finish();
}

/// The adversarial inputs: each a single user message of `bytes` bytes.
fn adversarial(bytes: usize) -> Vec<(&'static str, String)> {
    let repeat = |unit: &str| unit.repeat(bytes / unit.len());
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut letters = String::with_capacity(bytes);
    while letters.len() < bytes {
        letters.push(char::from(b'a' + u8::try_from(next() % 26).unwrap_or(0)));
    }
    let mut random = String::with_capacity(bytes + 4);
    while random.len() < bytes {
        // Any scalar value below U+3000 (letters, marks, symbols, controls).
        let code = u32::try_from(next() % 0x3000).unwrap_or(0);
        random.push(char::from_u32(code).unwrap_or('?'));
    }
    vec![
        ("spaces", repeat(" ")),
        ("one_letter", repeat("a")),
        ("no_spaces", letters),
        ("random_chars", random),
        ("cjk_run", repeat("東京データ")),
        ("emoji", repeat("😀🚀")),
        ("pattern", repeat("ab1!")),
    ]
}

fn bench_adversarial(c: &mut Criterion) {
    warm();
    let bytes = 1024 * 1024;
    let mut group = c.benchmark_group("adversarial");
    group.sample_size(10);
    for (label, text) in adversarial(bytes) {
        let mut body = Map::new();
        body.insert(
            "messages".to_owned(),
            json!([{"role": "user", "content": text}]),
        );
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("o200k", label), &body, |b, body| {
            b.iter(|| estimate_prompt(black_box(body)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_estimate, bench_adversarial);
criterion_main!(benches);
