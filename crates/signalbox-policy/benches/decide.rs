//! The routing decision on generated policies: `decide` for a worst-ish
//! request (every rule but the last is evaluated and misses), its growth with
//! the number of rules and routes, the whole policy stage (`authenticate` →
//! `extract` → `decide`) and the rendering of the evidence (`Decision::trace`).
//!
//! Before the criterion groups, a plain timing loop measures single `decide`
//! calls and prints p50/p90/p99/p99.9 to stderr, because the target
//! (p99 ≤ 20 µs for 100 rules × 50 routes) is a tail figure criterion does not
//! report.
//!
//! Run: `cargo bench -p signalbox-policy --bench decide`.
//! Environment: `SIGNALBOX_BENCH_QUICK=1` cuts the latency loop to 10,000
//! calls and criterion's default warm-up/measurement to 0.5 s/1 s;
//! `SIGNALBOX_BENCH_P99=0` skips the latency loop. See docs/benchmarks-policy.md.

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

use criterion::{BenchmarkId, Criterion, criterion_group};
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use signalbox_config::load_str;
use signalbox_core::ChatRequest;
use signalbox_policy::{
    Decision, NoObservations, PolicySnapshot, Signals, authenticate, decide, extract,
};

const REGIONS: [&str; 6] = ["us", "eu", "uk", "ca", "apac", "jp"];
const PROVIDERS: [&str; 4] = ["openai", "anthropic", "azure-eu", "vllm"];
const RETENTION: [&str; 4] = ["zero", "abuse-monitoring", "standard", "training"];
const TIERS: [&str; 4] = ["public", "internal", "sensitive", "restricted"];
const FILTERS: [&str; 3] = ["none", "standard", "strict"];
const CONTEXT: [u32; 4] = [8192, 32768, 128_000, 200_000];

/// The headline size.
const RULES: usize = 100;
const ROUTES: usize = 50;

/// A route list (`[r0000, r0003, ...]`) of the routes `0..n` that `keep` admits.
fn route_list(n: usize, keep: impl Fn(usize) -> bool) -> String {
    let ids: Vec<String> = (0..n).filter(|&i| keep(i)).map(route_id).collect();
    format!("[{}]", ids.join(", "))
}

fn route_id(i: usize) -> String {
    format!("r{i:04}")
}

/// A policy of `rules` rules and `routes` routes as YAML text.
///
/// The benchmarked request (tenant `globex`, alias `chat`, tools, header
/// `x-feature: beta`, intent `action` from an intent rule) misses every rule
/// but the last, each on a different condition, so all rules are evaluated;
/// the last rule matches and has a selector, requirements and objectives.
/// The `chat` alias lists every route, so every route is checked.
fn policy_yaml(rules: usize, routes: usize) -> String {
    assert!(rules >= 1 && routes >= 10, "need ≥ 1 rule and ≥ 10 routes");
    let mut y = String::with_capacity(256 * (rules + routes));
    y.push_str("regions: [us, eu, uk, ca, apac, jp]\n");
    y.push_str("risk-tiers: [public, internal, sensitive, restricted]\n");
    y.push_str("providers:\n");
    for p in PROVIDERS {
        let _ = writeln!(
            y,
            "  - {{ name: {p}, kind: openai-compatible, base-url: \"http://127.0.0.1:9/{p}/v1\" }}"
        );
    }

    y.push_str("routes:\n");
    for i in 0..routes {
        let ctx = CONTEXT[(i * 7 + i / 5) % 4];
        let max_out = ctx.min(if i % 2 == 0 { 4096 } else { 16384 });
        let input = 0.1 + (i % 13) as f64 * 0.37;
        let output = input * 4.0;
        let _ = writeln!(
            y,
            "  - {{ id: {id}, provider: {p}, model: m-{m}, region: {region}, context-window: {ctx}, \
             max-output-tokens: {max_out}, supports: {{ tools: {tools}, vision: {vision}, \
             json-mode: {json}, streaming: {stream} }}, price: {{ input-per-1m: {input:.2}, \
             output-per-1m: {output:.2} }}, retention: {ret}, max-risk-tier: {tier}, \
             content-filter: {filter} }}",
            id = route_id(i),
            p = PROVIDERS[i % PROVIDERS.len()],
            m = i % 7,
            region = REGIONS[i % REGIONS.len()],
            tools = i % 5 != 4,
            vision = i % 3 == 0,
            json = i % 2 == 0,
            stream = i % 7 != 6,
            ret = RETENTION[(i / 2) % RETENTION.len()],
            tier = TIERS[1 + i % 3],
            filter = FILTERS[(i / 3) % FILTERS.len()],
        );
    }

    y.push_str("aliases:\n");
    let _ = writeln!(
        y,
        "  - {{ name: chat, routes: {} }}",
        route_list(routes, |_| true)
    );
    let _ = writeln!(
        y,
        "  - {{ name: chat-fast, routes: {}, max-attempts: 3 }}",
        route_list(routes, |i| i % 2 == 0)
    );
    let _ = writeln!(
        y,
        "  - {{ name: code, routes: {} }}",
        route_list(routes, |i| i % 3 == 0)
    );
    let _ = writeln!(
        y,
        "  - {{ name: reasoning, routes: {} }}",
        route_list(routes, |i| i % 4 == 1)
    );

    y.push_str(
        "tenants:
  - { id: acme, plan: enterprise, api-keys: [{ env: ACME_KEY }], allowed-regions: [eu, uk], preferred-regions: [eu], risk-floor: internal, require-retention: zero }
  - { id: globex, plan: pro, api-keys: [{ env: GLOBEX_KEY }], allowed-regions: [us, eu, ca], preferred-regions: [us], risk-floor: internal, max-risk-tier: sensitive, require-content-filter: standard }
  - { id: initech, plan: team, api-keys: [{ env: INITECH_KEY }], allowed-regions: [apac, jp], preferred-regions: [jp] }
  - { id: guest, allowed-regions: [us], max-risk-tier: public }
anonymous-tenant: guest
intents:
  default: general
  rules:
    - { name: drafting, when: { last-user-message: \"(?i)\\\\b(draft|compose|rewrite)\\\\b\" }, intent: drafting }
    - { name: coding, when: { last-user-message: \"(?i)\\\\b(refactor|stack trace|compile error)\\\\b\" }, intent: coding }
    - { name: tools-action, when: { tools: true }, intent: action }
policy:
  rules:
",
    );
    for k in 0..rules - 1 {
        let name = format!("rule-{k:04}");
        // Each kind misses the benchmarked request on a different condition,
        // later kinds only after passing the earlier conditions.
        let when = match k % 8 {
            0 => "{ tenants: [acme, initech] }".to_string(),
            1 => "{ plans: [enterprise, team] }".to_string(),
            2 => "{ tenants: [globex], aliases: [code, reasoning] }".to_string(),
            3 => "{ aliases: [chat], intents: [drafting, coding] }".to_string(),
            4 => "{ tenants: [globex], intents: [action], risk-tiers: [sensitive, restricted] }"
                .to_string(),
            5 => "{ intents: [action], regions: [apac, jp] }".to_string(),
            6 => "{ tenants: [globex], aliases: [chat], tools: false }".to_string(),
            _ => format!(
                "{{ tenants: [globex], aliases: [chat], intents: [action], headers: {{ x-feature: exp-{k}, x-cohort: c{k} }} }}"
            ),
        };
        // Varied bodies: they cost only at load, but keep the policy realistic.
        let body = match k % 4 {
            0 => format!(
                "routes: {}\n      failure-mode: fail-closed\n      require: {{ retention: zero }}",
                route_list(routes, |i| i % 10 == k % 10)
            ),
            1 => "select: { regions: [eu, uk], supports: [tools, streaming] }\n      objectives: { prefer-regions: [eu], weights: { preference: 1, cost: 1 } }".to_string(),
            2 => format!(
                "objectives: {{ prefer: [{}], max-cost-usd: 0.02 }}\n      degrade: [fallback-route, smaller-model]",
                route_id(k % routes)
            ),
            _ => "select: { providers: [vllm] }\n      require: { content-filter: strict }\n      max-attempts: 2".to_string(),
        };
        let _ = writeln!(y, "    - name: {name}\n      when: {when}\n      {body}");
    }
    // The late rule that matches.
    let _ = writeln!(
        y,
        "    - name: globex-actions-beta
      when: {{ tenants: [globex, acme], aliases: [chat, chat-fast], intents: [action], risk-tiers: [internal, sensitive], tools: true, headers: {{ x-feature: beta }} }}
      select: {{ regions: [us, eu, ca], supports: [tools] }}
      require: {{ retention: standard }}
      objectives:
        prefer: [{}, {}, {}]
        prefer-regions: [us]
        max-cost-usd: 0.015
        latency-slo: 2s
        weights: {{ preference: 1, cost: 0.5, latency: 0.25 }}
      degrade: [fallback-route, reduced-context]
      max-attempts: 3",
        route_id(6),
        route_id(1),
        route_id(3),
    );
    y
}

fn snapshot(rules: usize, routes: usize) -> PolicySnapshot {
    let vars: HashMap<String, String> = [
        ("ACME_KEY", "acme-secret"),
        ("GLOBEX_KEY", "globex-secret"),
        ("INITECH_KEY", "initech-secret"),
    ]
    .map(|(k, v)| (k.into(), v.into()))
    .into();
    let yaml = policy_yaml(rules, routes);
    let config = load_str(&yaml, "<bench>", &vars)
        .unwrap_or_else(|e| panic!("generated policy does not load: {e}\n---\n{yaml}"));
    PolicySnapshot::new(Arc::new(config))
}

/// Words for the message text; none trips the drafting/coding intent rules.
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
    "invoice",
    "customer",
    "order",
    "status",
    "shipping",
    "refund",
    "please",
    "check",
    "latest",
    "naïve",
    "café",
    "東京",
    "1024",
    "p99",
    "latency",
    "budget",
    "region",
    "eu-west-1",
    "account",
];

/// Deterministic text of about `bytes` bytes.
fn text(bytes: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut out = String::with_capacity(bytes + 32);
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

/// A typical agent request: system prompt, a ~1 KiB user message, two tools,
/// streaming, `max_tokens`.
fn request() -> ChatRequest {
    let tool = |name: &str, desc: &str| {
        json!({
            "type": "function",
            "function": {
                "name": name,
                "description": desc,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "id": { "type": "string", "description": "identifier" },
                        "limit": { "type": "integer", "minimum": 1, "maximum": 100 }
                    },
                    "required": ["id"]
                }
            }
        })
    };
    let body: Value = json!({
        "model": "chat",
        "stream": true,
        "max_tokens": 1024,
        "messages": [
            { "role": "system", "content": text(200, 1) },
            { "role": "user", "content": text(1024, 2) }
        ],
        "tools": [
            tool("lookup_order", "Look up an order by id."),
            tool("issue_refund", "Refund an order.")
        ]
    });
    ChatRequest::parse(body.to_string().as_bytes()).expect("request parses")
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("authorization", "Bearer globex-secret"),
        ("content-type", "application/json"),
        ("x-feature", "beta"),
        ("x-signalbox-session", "sess-4f1c2a"),
        ("user-agent", "openai-python/1.54.0"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

/// A prepared scenario: snapshot, request, headers and extracted signals.
struct Case {
    snap: PolicySnapshot,
    req: ChatRequest,
    headers: HeaderMap,
    signals: Signals,
    rules: usize,
}

impl Case {
    fn new(rules: usize, routes: usize) -> Self {
        let snap = snapshot(rules, routes);
        let req = request();
        let headers = headers();
        let (tenant, anonymous) = authenticate(&snap, &headers).expect("authenticates");
        let signals = extract(&snap, tenant, anonymous, &headers, &req).expect("signals");
        let case = Self {
            snap,
            req,
            headers,
            signals,
            rules,
        };
        case.check();
        case
    }

    fn decide(&self) -> Decision {
        decide(&self.snap, &self.signals, &self.headers, &NoObservations)
    }

    /// The scenario is what it claims: every rule evaluated, the last one
    /// matched, and some (not all) routes eligible.
    fn check(&self) {
        let d = self.decide();
        assert_eq!(self.signals.intent, "action", "intent from the tools rule");
        assert_eq!(d.rule, Some(self.rules - 1), "the last rule matches");
        assert!(d.refusal.is_none(), "the request is served");
        let trace = d.trace(&self.snap, &self.signals);
        assert_eq!(trace.rules.len(), self.rules, "every rule is evaluated");
        let routes = self.snap.config().routes.len();
        assert_eq!(trace.candidates.len(), routes, "every route is checked");
        assert!(!d.candidates.is_empty() && d.candidates.len() < routes);
    }

    /// The whole policy stage for one request.
    fn pipeline(&self) -> Decision {
        let (tenant, anonymous) =
            authenticate(&self.snap, black_box(&self.headers)).expect("authenticates");
        let signals = extract(
            &self.snap,
            tenant,
            anonymous,
            black_box(&self.headers),
            black_box(&self.req),
        )
        .expect("signals");
        decide(&self.snap, &signals, &self.headers, &NoObservations)
    }
}

fn quick() -> bool {
    std::env::var("SIGNALBOX_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn bench_headline(c: &mut Criterion) {
    let case = Case::new(RULES, ROUTES);
    let mut group = c.benchmark_group("decide");
    group.bench_function("100rules_50routes", |b| {
        b.iter(|| {
            decide(
                &case.snap,
                black_box(&case.signals),
                black_box(&case.headers),
                &NoObservations,
            )
        });
    });
    group.finish();
}

fn bench_growth(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for (axis, rules, routes) in [
        ("rules", 10, ROUTES),
        ("rules", 100, ROUTES),
        ("rules", 1000, ROUTES),
        ("routes", RULES, 10),
        ("routes", RULES, 100),
        ("routes", RULES, 1000),
    ] {
        let case = Case::new(rules, routes);
        let n = if axis == "rules" { rules } else { routes };
        group.bench_with_input(BenchmarkId::new(axis, n), &case, |b, case| {
            b.iter(|| {
                decide(
                    &case.snap,
                    black_box(&case.signals),
                    black_box(&case.headers),
                    &NoObservations,
                )
            });
        });
    }
    group.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    // Startup cost, paid once by the gateway.
    signalbox_policy::tokens::warm();
    let case = Case::new(RULES, ROUTES);
    let mut group = c.benchmark_group("pipeline");
    group.bench_function("100rules_50routes", |b| b.iter(|| case.pipeline()));
    group.finish();
}

fn bench_trace(c: &mut Criterion) {
    let case = Case::new(RULES, ROUTES);
    let decision = case.decide();
    let mut group = c.benchmark_group("trace");
    group.bench_function("100rules_50routes", |b| {
        b.iter(|| black_box(&decision).trace(&case.snap, black_box(&case.signals)));
    });
    group.finish();
}

/// Per-call latencies of `f`, sorted, after `warmup` unrecorded calls.
fn sample<T>(iters: usize, warmup: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    for _ in 0..warmup {
        black_box(f());
    }
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        // Dropping the result (freeing its vectors) is part of the cost, as
        // in criterion's `iter`.
        drop(black_box(f()));
        out.push(start.elapsed());
    }
    out.sort_unstable();
    out
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

fn report(label: &str, sorted: &[Duration], target: Option<Duration>) {
    let mean = sorted.iter().sum::<Duration>() / u32::try_from(sorted.len()).unwrap_or(u32::MAX);
    let p99 = pct(sorted, 0.99);
    let verdict = match target {
        Some(t) if p99 <= t => format!("  (target p99 ≤ {}: met)", us(t)),
        Some(t) => format!("  (target p99 ≤ {}: MISSED)", us(t)),
        None => String::new(),
    };
    eprintln!(
        "{label:<31} n={:<7} mean {}  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}{verdict}",
        sorted.len(),
        us(mean),
        us(pct(sorted, 0.50)),
        us(pct(sorted, 0.90)),
        us(p99),
        us(pct(sorted, 0.999)),
        us(sorted.last().copied().unwrap_or_default()),
    );
}

/// Tail latencies of single calls, timed one by one with `Instant`.
fn latency_report() {
    let args: Vec<String> = std::env::args().collect();
    let benching = args.iter().any(|a| a == "--bench");
    let listing = args.iter().any(|a| a == "--list");
    let off = std::env::var("SIGNALBOX_BENCH_P99").is_ok_and(|v| v == "0");
    if listing || off {
        return;
    }
    // `cargo test --benches` runs this binary without `--bench`: keep it short.
    let (iters, warmup) = match (benching, quick()) {
        (false, _) => (1_000, 100),
        (true, true) => (10_000, 1_000),
        (true, false) => (100_000, 10_000),
    };
    let case = Case::new(RULES, ROUTES);
    signalbox_policy::tokens::warm();
    eprintln!(
        "per-call latency, 100 rules × 50 routes (Instant per call; includes ~timer overhead):"
    );
    if !benching {
        eprintln!("  (test mode, likely an unoptimized build: figures are not meaningful)");
    }
    let timer = sample(iters, warmup, || ());
    report("timer overhead (empty call)", &timer, None);
    let decide_lat = sample(iters, warmup, || case.decide());
    let target = benching.then_some(Duration::from_micros(20));
    report("decide", &decide_lat, target);
    let decision = case.decide();
    let trace_lat = sample(iters / 5, warmup / 5, || {
        decision.trace(&case.snap, &case.signals)
    });
    report("trace", &trace_lat, None);
    let t = decision.trace(&case.snap, &case.signals);
    let verdicts: usize = t.candidates.iter().map(|c| c.verdicts.len()).sum();
    eprintln!(
        "  (trace renders {} rule records, {} candidate records with {verdicts} verdicts, {} ranked ids)",
        t.rules.len(),
        t.candidates.len(),
        t.ranking.len(),
    );
    let pipe_lat = sample(iters / 5, warmup / 5, || case.pipeline());
    report("pipeline (auth+extract+decide)", &pipe_lat, None);
    eprintln!();
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
    targets = bench_headline, bench_growth, bench_pipeline, bench_trace
}

fn main() {
    latency_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
