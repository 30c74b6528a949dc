//! Detection + tokenisation throughput on generated chat prompts of 1 KiB,
//! 32 KiB and 512 KiB with every built-in detector on, against a naive
//! baseline that runs one regex per class over the whole text.
//!
//! Run: `cargo bench -p signalbox-privacy --bench scan`. Figures: docs/privacy.md.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a broken profile should stop the run"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use regex::Regex;
use signalbox_privacy::{Action, PrivacyProfile, PrivacySpec, ProtectReport, TokenTable};

/// Ordinary chat sentences.
const PROSE: &[&str] = &[
    "Could you summarise the attached meeting notes and list the action items for each owner? ",
    "The deployment on Tuesday failed because the migration timed out after 300 seconds. ",
    "Please rewrite this paragraph in a friendlier tone, keeping it under 120 words. ",
    "We shipped version 2.14.3 last week; the changelog mentions 17 fixes and 3 features. ",
    "Here is the error: `TypeError: cannot read properties of undefined (reading 'map')`. ",
    "Our Q3 revenue grew 12.5% to 4,210,000 EUR, mostly from the enterprise tier. ",
    "Explain the difference between optimistic and pessimistic locking with an example. ",
    "The customer says the dashboard loads slowly on mobile since the 2024-05-02 release. ",
    "function retry(fn, attempts = 3) { return fn().catch(e => attempts ? retry(fn, attempts - 1) : Promise.reject(e)); }\n",
    "Translate to German: the invoice is attached and payment is due within 30 days.\n",
    "Commit 3f786850e387550fdab836ed7e6dc881de23001b touched src/server/handlers/auth.rs. ",
    "Trace id 550e8400-e29b-41d4-a716-446655440000 shows a 502 from the upstream at 10:31:07. ",
];

/// Sentences with sensitive data.
const PII: &[&str] = &[
    "Contact me at jane.doe@example.com or +44 20 7946 0958. ",
    "Charge card 4111 1111 1111 1111, expiry 04/27. ",
    "Wire it to GB82 WEST 1234 5698 7654 32 today. ",
    "The server at 10.0.12.7 rejected the login from 203.0.113.45. ",
    "My SSN is 536-22-1234. ",
    "Use the key AKIAIOSFODNN7EXAMPLE for the staging bucket. ",
    "Call (415) 555-0132 after 5pm, or email ops+alerts@acme-corp.co.uk. ",
    "token: ghp_i0B3JrTAwR4y9ojfljoQoaF1LlqsajAIxNKu\n",
];

/// Deterministic prompt of about `size` bytes: one sensitive sentence in eight.
fn prompt(size: usize) -> String {
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap()
    };
    let mut text = String::with_capacity(size + 256);
    while text.len() < size {
        let n = next();
        let pool = if n % 8 == 0 { PII } else { PROSE };
        text.push_str(pool[n / 8 % pool.len()]);
    }
    text
}

fn profile() -> PrivacyProfile {
    PrivacyProfile::compile(&PrivacySpec::all_builtin(Action::Tokenise)).unwrap()
}

/// The baseline: one regex per class, each run over the whole text.
struct Naive {
    regexes: Vec<Regex>,
}

impl Naive {
    fn new() -> Self {
        let patterns = [
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
            r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){2,4}",
            r"\b(?:\d[ -]?){12,18}\d\b",
            r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
            r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
            r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b",
            r"\b\d{3}-\d{2}-\d{4}\b",
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[A-Za-z0-9_-]{35}",
            r"[A-Za-z0-9+/_-]{24,}",
        ];
        Self {
            regexes: patterns.iter().map(|p| Regex::new(p).unwrap()).collect(),
        }
    }

    /// Finds with every regex, then replaces matches with tokens (overlaps skipped).
    fn protect(&self, text: &str, table: &mut TokenTable) -> String {
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        for (class, re) in self.regexes.iter().enumerate() {
            spans.extend(re.find_iter(text).map(|m| (m.start(), m.end(), class)));
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end, class) in spans {
            if start < copied {
                continue;
            }
            out.push_str(&text[copied..start]);
            out.push_str(table.tokenise(
                [
                    "EMAIL", "PHONE", "CARD", "IBAN", "IP", "IP", "SSN", "SECRET", "SECRET",
                ][class],
                &text[start..end],
            ));
            copied = end;
        }
        out.push_str(&text[copied..]);
        out
    }
}

fn bench_protect(c: &mut Criterion) {
    let profile = profile();
    let naive = Naive::new();
    let mut group = c.benchmark_group("protect_text");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for (label, size) in [("1KiB", 1024), ("32KiB", 32 * 1024), ("512KiB", 512 * 1024)] {
        let text = prompt(size);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("signalbox", label), &text, |b, text| {
            b.iter(|| {
                let mut table = TokenTable::new();
                let mut report = ProtectReport::default();
                black_box(
                    profile
                        .protect_text(black_box(text), &mut table, &mut report)
                        .unwrap(),
                )
            });
        });
        group.bench_with_input(
            BenchmarkId::new("naive_regex_per_class", label),
            &text,
            |b, text| {
                b.iter(|| black_box(naive.protect(black_box(text), &mut TokenTable::new())));
            },
        );
    }
    group.finish();
}

fn bench_find_only(c: &mut Criterion) {
    let profile = profile();
    let text = prompt(512 * 1024);
    let mut group = c.benchmark_group("find");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    group.throughput(Throughput::Bytes(text.len() as u64));
    let mut findings = Vec::new();
    group.bench_function("512KiB", |b| {
        b.iter(|| {
            profile.find_into(black_box(&text), &mut findings);
            black_box(findings.len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_protect, bench_find_only);
criterion_main!(benches);
