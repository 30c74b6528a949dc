//! Stream restore cost per chunk. A plain timing loop first measures single
//! `StreamRestorer::push` and `ChatStreamRestorer::restore_chunk` calls on a
//! generated model answer (small deltas, tokens split across chunks) and
//! prints p50/p99/p99.9 to stderr, because the target (< 20 µs per chunk at
//! p99) is a tail figure criterion does not report. Criterion then measures
//! a whole stream.
//!
//! Run: `cargo bench -p signalbox-privacy --bench restore`. Figures: docs/privacy.md.

#![expect(clippy::disallowed_methods, reason = "a benchmark measures real time")]
#![expect(clippy::unwrap_used, reason = "benchmark setup")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use signalbox_privacy::{ChatStreamRestorer, Escape, StreamRestorer, TokenTable};

fn table() -> Arc<TokenTable> {
    let mut table = TokenTable::new();
    for i in 0..50 {
        table.tokenise("EMAIL", &format!("user{i}@example.com"));
        table.tokenise("PHONE", &format!("+44 20 7946 {i:04}"));
    }
    Arc::new(table)
}

/// Deltas of 1–12 bytes, as models stream them, with a token every ~40 bytes.
fn deltas(count: usize) -> Vec<String> {
    let answer = "Sure. I emailed ⟦EMAIL_3⟧ and left a message on ⟦PHONE_12⟧; \
                  if ⟦EMAIL_41⟧ does not reply by Friday I will call again. ";
    let chars: Vec<char> = answer.chars().collect();
    let mut out = Vec::with_capacity(count);
    let (mut at, mut state) = (0usize, 7u32);
    while out.len() < count {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = 1 + (state >> 16) as usize % 12;
        let piece: String = (0..len).map(|i| chars[(at + i) % chars.len()]).collect();
        at += len;
        out.push(piece);
    }
    out
}

fn percentiles(mut nanos: Vec<u64>) -> String {
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    format!(
        "p50 {:.3} µs, p99 {:.3} µs, p99.9 {:.3} µs, max {:.3} µs",
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}

fn latency_loop() {
    let table = table();
    let chunks = deltas(200_000);
    let mut restorer = StreamRestorer::new(Arc::clone(&table), Escape::None);
    let mut nanos = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let start = Instant::now();
        black_box(restorer.push(black_box(chunk)));
        nanos.push(u64::try_from(start.elapsed().as_nanos()).unwrap());
    }
    eprintln!(
        "StreamRestorer::push, {} chunks: {}",
        chunks.len(),
        percentiles(nanos)
    );

    let mut chat = ChatStreamRestorer::new(table);
    let mut values: Vec<Value> = chunks
        .iter()
        .map(|c| json!({ "id": "x", "object": "chat.completion.chunk", "choices": [{ "index": 0, "delta": { "content": c } }] }))
        .collect();
    let mut nanos = Vec::with_capacity(values.len());
    for value in &mut values {
        let start = Instant::now();
        chat.restore_chunk(black_box(value));
        nanos.push(u64::try_from(start.elapsed().as_nanos()).unwrap());
    }
    eprintln!(
        "ChatStreamRestorer::restore_chunk, {} chunks: {}",
        values.len(),
        percentiles(nanos)
    );
}

fn bench_stream(c: &mut Criterion) {
    latency_loop();
    let table = table();
    let chunks = deltas(2_000);
    let mut group = c.benchmark_group("stream_restore");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(chunks.len() as u64));
    group.bench_function("push_2000_chunks", |b| {
        b.iter(|| {
            let mut restorer = StreamRestorer::new(Arc::clone(&table), Escape::None);
            for chunk in &chunks {
                black_box(restorer.push(chunk));
            }
            black_box(restorer.flush())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_stream);
criterion_main!(benches);
