//! Policy scale (issue 18, target 4): the routing decision on a generated
//! configuration of 100 rules × 50 routes × 20 tenants. Each measured call
//! decides for the next of 20 requests, one per tenant (so no single path
//! stays hot), most of whose rules miss and one of which matches late.
//!
//! A timing loop first prints mean / p50 / p99 / p99.9 per `decide` call
//! (the target is a tail figure: p99 ≤ 10 µs), then criterion measures the
//! same call. `cargo bench -p signalbox-policy --bench scale`;
//! `SIGNALBOX_BENCH_QUICK=1` shortens both. See docs/benchmarks.md.

#![expect(clippy::disallowed_methods, reason = "a benchmark measures real time")]
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a broken generated policy should stop the run"
)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use http::{HeaderMap, HeaderValue};
use signalbox_config::load_str;
use signalbox_core::ChatRequest;
use signalbox_policy::{NoObservations, PolicySnapshot, Signals, authenticate, decide, extract};

const RULES: usize = 100;
const ROUTES: usize = 50;
const TENANTS: usize = 20;
const REGIONS: [&str; 4] = ["us", "eu", "uk", "jp"];
const PROVIDERS: [&str; 4] = ["openai", "anthropic", "azure", "vllm"];

fn route(i: usize) -> String {
    format!("r{i:02}")
}

fn tenant(i: usize) -> String {
    format!("t{i:02}")
}

/// The configuration as YAML (also used by the gateway's reload-under-load
/// test, which generates the same shape).
fn policy_yaml() -> String {
    let mut y = String::with_capacity(64 * 1024);
    y.push_str("regions: [us, eu, uk, jp]\nproviders:\n");
    for p in PROVIDERS {
        let _ = writeln!(
            y,
            "  - {{ name: {p}, kind: openai-compatible, base-url: \"http://127.0.0.1:9/{p}/v1\" }}"
        );
    }
    y.push_str("routes:\n");
    for i in 0..ROUTES {
        let _ = writeln!(
            y,
            "  - {{ id: {}, provider: {}, model: m-{}, region: {}, context-window: {}, \
             supports: {{ tools: {} }}, price: {{ input-per-1m: {:.2}, output-per-1m: {:.2} }} }}",
            route(i),
            PROVIDERS[i % 4],
            i % 5,
            REGIONS[i % 4],
            [8192, 32_768, 128_000][i % 3],
            i % 5 != 4,
            0.1 + (i % 7) as f64 * 0.3,
            0.4 + (i % 7) as f64 * 1.2,
        );
    }
    y.push_str("aliases:\n");
    for (a, step) in [("chat", 1), ("code", 2), ("fast", 3)] {
        let ids: Vec<String> = (0..ROUTES).step_by(step).map(route).collect();
        let _ = writeln!(y, "  - {{ name: {a}, routes: [{}] }}", ids.join(", "));
    }
    y.push_str("tenants:\n");
    for i in 0..TENANTS {
        let _ = writeln!(
            y,
            "  - {{ id: {}, plan: {}, api-keys: [{{ env: KEY_{i} }}], allowed-regions: [{}, {}] }}",
            tenant(i),
            ["pro", "team", "enterprise"][i % 3],
            REGIONS[i % 4],
            REGIONS[(i + 1) % 4],
        );
    }
    y.push_str(
        "intents:\n  default: general\n  rules:\n    - { name: tools-action, when: { tools: true }, intent: action }\npolicy:\n  rules:\n",
    );
    for k in 0..RULES - TENANTS {
        // Rules that miss: other tenants' cohorts, other aliases, headers.
        let when = match k % 4 {
            0 => format!("{{ tenants: [{}], aliases: [code] }}", tenant(k % TENANTS)),
            1 => format!("{{ aliases: [chat], headers: {{ x-cohort: c{k} }} }}"),
            2 => "{ intents: [drafting], plans: [enterprise] }".to_owned(),
            _ => format!("{{ tenants: [{}], tools: false }}", tenant(k % TENANTS)),
        };
        let _ = writeln!(
            y,
            "    - name: miss-{k:03}\n      when: {when}\n      select: {{ regions: [{}] }}",
            REGIONS[k % 4]
        );
    }
    // Late: one rule per tenant, matching that tenant's requests.
    for i in 0..TENANTS {
        let _ = writeln!(
            y,
            "    - name: tenant-{i:02}\n      when: {{ tenants: [{}], aliases: [chat], intents: [action] }}\n      \
             select: {{ supports: [tools] }}\n      objectives: {{ prefer: [{}], max-cost-usd: 0.02 }}",
            tenant(i),
            route(i % ROUTES),
        );
    }
    y
}

fn snapshot() -> PolicySnapshot {
    let vars: HashMap<String, String> = (0..TENANTS)
        .map(|i| (format!("KEY_{i}"), format!("key-{i}")))
        .collect();
    let yaml = policy_yaml();
    let config = load_str(&yaml, "<bench>", &vars)
        .unwrap_or_else(|e| panic!("generated policy does not load: {e}\n---\n{yaml}"));
    PolicySnapshot::new(Arc::new(config))
}

/// One tenant's request: alias `chat`, one tool, a short prompt.
fn case(snap: &PolicySnapshot, i: usize) -> (Signals, HeaderMap) {
    let body = serde_json::json!({
        "model": "chat",
        "max_tokens": 256,
        "messages": [{ "role": "user", "content": "look up the order status for account 1024" }],
        "tools": [{ "type": "function", "function": {
            "name": "lookup", "parameters": { "type": "object", "properties": {} } } }]
    });
    let req = ChatRequest::parse(body.to_string().as_bytes()).expect("request parses");
    let mut headers = HeaderMap::new();
    let auth = format!("Bearer key-{i}");
    headers.insert(
        "authorization",
        HeaderValue::from_str(&auth).expect("header"),
    );
    let (t, anonymous) = authenticate(snap, &headers).expect("authenticates");
    let signals = extract(snap, t, anonymous, &headers, &req).expect("signals");
    (signals, headers)
}

struct Cases {
    snap: PolicySnapshot,
    requests: Vec<(Signals, HeaderMap)>,
}

impl Cases {
    fn new() -> Self {
        let snap = snapshot();
        let requests: Vec<_> = (0..TENANTS).map(|i| case(&snap, i)).collect();
        let cases = Self { snap, requests };
        // Each tenant's request is decided by its own late rule and served.
        for (i, (s, h)) in cases.requests.iter().enumerate() {
            let d = decide(&cases.snap, s, h, &NoObservations);
            assert!(d.refusal.is_none(), "tenant {i} is served");
            assert_eq!(d.rule, Some(RULES - TENANTS + i), "tenant {i}'s rule");
        }
        cases
    }
}

fn quick() -> bool {
    std::env::var("SIGNALBOX_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn latency_report(cases: &Cases) {
    let benching = std::env::args().any(|a| a == "--bench");
    let iters = match (benching, quick()) {
        (false, _) => 1_000,
        (true, true) => 20_000,
        (true, false) => 200_000,
    };
    let mut out = Vec::with_capacity(iters);
    for n in 0..iters + iters / 10 {
        let (s, h) = &cases.requests[n % TENANTS];
        let start = Instant::now();
        drop(black_box(decide(
            &cases.snap,
            black_box(s),
            black_box(h),
            &NoObservations,
        )));
        if n >= iters / 10 {
            out.push(start.elapsed());
        }
    }
    out.sort_unstable();
    let mean = out.iter().sum::<Duration>() / u32::try_from(out.len()).unwrap_or(u32::MAX);
    let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
    eprintln!(
        "decide, {RULES} rules × {ROUTES} routes × {TENANTS} tenants: n={} mean {}  p50 {}  p90 {}  p99 {}  p99.9 {}  (target p99 ≤ 10 µs: {})",
        out.len(),
        us(mean),
        us(pct(&out, 0.5)),
        us(pct(&out, 0.9)),
        us(pct(&out, 0.99)),
        us(pct(&out, 0.999)),
        if pct(&out, 0.99) <= Duration::from_micros(10) {
            "met"
        } else {
            "MISSED"
        },
    );
    if !benching {
        eprintln!("  (test mode, likely an unoptimized build: figures are not meaningful)");
    }
}

fn bench_scale(c: &mut Criterion) {
    let cases = Cases::new();
    let mut n = 0;
    c.bench_function("decide/100rules_50routes_20tenants", |b| {
        b.iter(|| {
            n += 1;
            let (s, h) = &cases.requests[n % TENANTS];
            decide(&cases.snap, black_box(s), black_box(h), &NoObservations)
        });
    });
}

fn config() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1))
    } else {
        c
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_scale
}

fn main() {
    latency_report(&Cases::new());
    benches();
    Criterion::default().configure_from_args().final_summary();
}
