//! The decision-log load (issue 18): writes N records (default 10 M; ~90 %
//! routine, 10 % failover / skip / degraded / failed) through the public
//! `DecisionLog`, then reports what the writer sustained, its CPU per
//! record, the bytes per record on disk (mix, routine only, non-routine
//! only), the records dropped at a paced gateway rate, and the latency of
//! every filter and aggregate of `/admin/decisions` over the whole file.
//! Run by `bench/decision-log.sh`; see docs/benchmarks.md.
//!
//! `cargo bench -p signalbox-decision-log --bench load -- [--records N]
//! [--rate R] [--paced-secs S] [--dir D] [--keep] [--query-only]
//! [--only routine|non-routine|mix]` (`--only`: that fill alone, for A/B
//! runs of the writer's CPU; no paced run, no queries)

#![expect(clippy::disallowed_methods, reason = "a benchmark measures real time")]
#![expect(clippy::unwrap_used, reason = "benchmark")]
#![expect(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use signalbox_core::{
    AttemptRecord, CandidateRecord, DecisionRecord, OutcomeClass, ProviderName, RouteId,
    SignalRecord, SignalSource, SkipKind, SkipRecord, Usage, Verdict,
};
use signalbox_decision_log::{DecisionLog, Facet, GroupBy, LogOptions, LogReader, Query};

/// The allocator the gateway binary runs the writer under: measured with
/// glibc's malloc, the writer spent ~18 % of its CPU in `malloc_consolidate`
/// and `free`, a cost the shipped binary does not pay.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const TENANTS: u64 = 20;
const ROUTES: u64 = 50;
const ALIASES: u64 = 5;

struct Args {
    records: u64,
    rate: u64,
    paced_secs: u64,
    dir: PathBuf,
    keep: bool,
    /// Only the queries, over `dir/mix.db` left by an earlier `--keep` run.
    query_only: bool,
    /// Only this fill (`routine`, `non-routine` or `mix`).
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        records: 10_000_000,
        rate: 36_000,
        paced_secs: 20,
        dir: std::env::temp_dir().join("signalbox-decision-log-load"),
        keep: false,
        query_only: false,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--records" => a.records = value().parse().unwrap(),
            "--rate" => a.rate = value().parse().unwrap(),
            "--paced-secs" => a.paced_secs = value().parse().unwrap(),
            "--dir" => a.dir = PathBuf::from(value()),
            "--keep" => a.keep = true,
            "--query-only" => a.query_only = true,
            "--only" => a.only = Some(value()),
            // cargo bench passes `--bench`.
            _ => {}
        }
    }
    a
}

/// What kind of record the i-th one is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Routine,
    Unusual,
}

fn kind_of(i: u64, routine_percent: u64) -> Kind {
    if (i * 7 + 3) % 100 < routine_percent {
        Kind::Routine
    } else {
        Kind::Unusual
    }
}

fn signal(name: &str, value: String) -> SignalRecord {
    SignalRecord {
        name: name.to_owned().into(),
        value: value.into(),
        source: SignalSource::Body,
        detail: None,
    }
}

fn verdict(constraint: &str, detail: String) -> Verdict {
    Verdict {
        constraint: constraint.to_owned().into(),
        ok: true,
        detail,
    }
}

fn attempt(route: &str, outcome: OutcomeClass, status: u16, ms: u64) -> AttemptRecord {
    AttemptRecord {
        route: RouteId::new(route),
        provider: ProviderName::new(&provider_of(route)),
        outcome,
        status: Some(status),
        elapsed: Duration::from_millis(ms),
        detail: String::new(),
        retry_after_secs: None,
        provider_error: None,
        sent_after: Duration::ZERO,
    }
}

/// Routes `rNN` are spread over four providers.
fn provider_of(route: &str) -> String {
    format!("p{}", route[1..].parse::<u64>().unwrap_or(0) % 4)
}

/// The i-th record, shaped like the gateway's: 14 signals, 3 candidates
/// with verdicts quoting the token count, one attempt (routine) or a
/// failover, a skip, a degradation or a failure (the rest).
fn record(i: u64, time_ms: u64, kind: Kind) -> DecisionRecord {
    let tenant = format!("t{:02}", (i * i) % TENANTS);
    let alias = format!("alias-{}", i % ALIASES);
    let route = |k: u64| format!("r{:02}", (i + k * 17) % ROUTES);
    let (first, second, third) = (route(0), route(1), route(2));
    let tokens = 10 + (i * 31) % 4000;
    let intent = ["general", "code", "action"][(i % 3) as usize];
    let tools = if i.is_multiple_of(4) {
        "lookup"
    } else {
        "none"
    };
    let mut signals: Vec<_> = [
        ("tenant", tenant.clone()),
        ("plan", "pro".to_owned()),
        ("alias", alias.clone()),
        ("region", "[eu, us]".to_owned()),
        ("risk_tier", "public".to_owned()),
        ("intent", intent.to_owned()),
        ("tools", tools.to_owned()),
        ("images", "false".to_owned()),
        ("json_mode", "false".to_owned()),
        ("stream", i.is_multiple_of(2).to_string()),
        ("irreversible", "false".to_owned()),
        ("max_tokens", "1024".to_owned()),
        ("prompt_tokens", tokens.to_string()),
    ]
    .into_iter()
    .map(|(n, v)| signal(n, v))
    .collect();
    signals.push(signal("session", format!("sess-{:x}", i % 100_000)));
    let candidate = |r: &str, score: f64| CandidateRecord {
        route: r.to_owned(),
        eligible: true,
        verdicts: vec![
            verdict("region", "region eu ∈ [eu, us] ✓".to_owned()),
            verdict(
                "risk_tier",
                "risk tier public ≤ route max restricted ✓".to_owned(),
            ),
            verdict(
                "context_window",
                format!("context_window 128000 ≥ {tokens} ✓"),
            ),
        ],
        score: Some(score),
        cost_estimate_usd: Some(tokens as f64 / 4e5),
    };
    let policy = if i % 1000 < 500 { "pv-1" } else { "pv-2" };
    let completion = 5 + (i * 13) % 700;
    let mut r = DecisionRecord {
        request_id: format!("{:032x}", (u128::from(time_ms) << 80) | u128::from(i)),
        caller_request_id: i.is_multiple_of(10).then(|| format!("client-{i}")),
        time_ms,
        tenant,
        policy_version: policy.to_owned(),
        alias: Some(alias),
        signals,
        rule: Some("default".to_owned()),
        candidates: vec![
            candidate(&first, 0.9),
            candidate(&second, 0.8),
            candidate(&third, 0.7),
        ],
        ranking: vec![first.clone(), second.clone(), third],
        failure_mode: "degrade".to_owned(),
        chosen: Some(first.clone()),
        provider: Some(provider_of(&first)),
        model_version: Some(format!("m-{}", (i / 1_000_000) % 3)),
        attempts: vec![attempt(&first, OutcomeClass::Success, 200, 50 + i % 900)],
        outcome: "served".to_owned(),
        status: 200,
        stream: i.is_multiple_of(2),
        usage: Some(Usage {
            prompt_tokens: tokens,
            completion_tokens: completion,
        }),
        cost_usd: Some((tokens * 3 + completion * 12) as f64 / 1e7),
        latency_ms: 50 + (i * 37) % 2000,
        trace_id: Some(format!("{:032x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15)),
        prompt_version: i.is_multiple_of(5).then(|| "support@v2".to_owned()),
        ..DecisionRecord::default()
    };
    if kind == Kind::Unusual {
        match i % 4 {
            0 => {
                r.attempts
                    .insert(0, attempt(&second, OutcomeClass::ServerError, 502, 30));
                r.chosen = Some(second.clone());
            }
            1 => {
                r.skipped = vec![SkipRecord::new(
                    second,
                    SkipKind::CircuitOpen,
                    "circuit open for 12.0s more (5 failures in a row)",
                )];
            }
            2 => r.degraded = vec!["fallback-route".to_owned()],
            _ => {
                r.outcome = "failed".to_owned();
                r.status = 502;
                r.error = Some("all upstreams failed".to_owned());
                r.chosen = None;
                r.attempts[0] = attempt(&first, OutcomeClass::ServerError, 502, 30);
            }
        }
    }
    r
}

fn open(path: &Path, queue: usize) -> DecisionLog {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    DecisionLog::open(
        path,
        LogOptions {
            queue,
            retention: Duration::ZERO,
            max_bytes: 0,
            priority: Default::default(),
        },
    )
    .unwrap()
}

/// CPU time of this process's decision-log writer threads, ns
/// (`/proc/self/task/*/schedstat`: time on CPU).
fn writer_cpu_ns() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "decision-log" {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn file_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            let mut p = path.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(p).map_or(0, |m| m.len())
        })
        .sum()
}

/// Writes `n` records as fast as the writer takes them (a full queue is
/// waited out, not dropped). Returns (records/s, writer µs/record, bytes/record).
fn fill(
    rt: &tokio::runtime::Runtime,
    path: &Path,
    n: u64,
    routine_percent: u64,
    start_ms: u64,
) -> (f64, f64, f64) {
    let log = open(path, 10_000);
    let cpu0 = writer_cpu_ns();
    let t0 = Instant::now();
    for i in 0..n {
        // 36 records per millisecond: the gateway's rate on two cores.
        let r = record(i, start_ms + i / 36, kind_of(i, routine_percent));
        let mut r = Some(r);
        while let Some(rec) = r.take() {
            let cloned = rec.clone();
            if !log.record(rec) {
                std::thread::sleep(Duration::from_micros(200));
                r = Some(cloned);
            }
        }
    }
    rt.block_on(log.flush());
    let secs = t0.elapsed().as_secs_f64();
    let cpu = writer_cpu_ns() - cpu0;
    let stats = log.stats();
    assert_eq!(stats.written, n, "{stats:?}");
    drop(log);
    std::thread::sleep(Duration::from_millis(200));
    (
        n as f64 / secs,
        cpu as f64 / 1e3 / n as f64,
        file_bytes(path) as f64 / n as f64,
    )
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.dir).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = signalbox_core::clock::unix_ms();
    let start = now - a.records / 36 - 60_000;

    if a.query_only {
        let path = a.dir.join("mix.db");
        // The times of the run that wrote the file: its first record's.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let first: i64 = conn
            .query_row("SELECT min(id) FROM decisions", [], |r| r.get(0))
            .unwrap();
        queries(&path, u64::try_from(first >> 12).unwrap(), a.records);
        return;
    }
    println!("# decision-log load: {} records", a.records);
    let only = |phase: &str| a.only.as_deref().is_none_or(|o| o == phase);
    if only("routine") {
        let small = (a.records / 10).clamp(1, 1_000_000);
        let (_, cpu_r, bytes_r) = fill(&rt, &a.dir.join("routine.db"), small, 100, start);
        println!("routine only ({small}): writer {cpu_r:.2} µs/record, {bytes_r:.0} bytes/record");
    }
    if only("non-routine") {
        let few = (a.records / 100).clamp(1, 100_000);
        let (_, cpu_u, bytes_u) = fill(&rt, &a.dir.join("unusual.db"), few, 0, start);
        println!(
            "non-routine only ({few}): writer {cpu_u:.2} µs/record, {bytes_u:.0} bytes/record"
        );
    }
    let path = a.dir.join("mix.db");
    if only("mix") {
        let (rps, cpu, bytes) = fill(&rt, &path, a.records, 90, start);
        println!(
            "mix 90/10 ({}): writer sustained {rps:.0} records/s, {cpu:.2} µs/record, {bytes:.0} bytes/record",
            a.records
        );
    }
    if a.only.is_some() {
        let _ = std::fs::remove_dir_all(&a.dir);
        return;
    }
    paced(&rt, &a);
    queries(&path, start, a.records);
    if !a.keep {
        let _ = std::fs::remove_dir_all(&a.dir);
    }
}

/// Sends records at `rate` per second for `paced_secs` with the gateway's
/// default queue, never waiting: what a saturated gateway would drop.
fn paced(rt: &tokio::runtime::Runtime, a: &Args) {
    let log = open(&a.dir.join("paced.db"), 10_000);
    let t0 = Instant::now();
    let total = a.rate * a.paced_secs;
    let mut sent = 0;
    while sent < total {
        let due = (t0.elapsed().as_secs_f64() * a.rate as f64) as u64;
        while sent < due.min(total) {
            let now = signalbox_core::clock::unix_ms();
            log.record(record(sent, now, kind_of(sent, 90)));
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    rt.block_on(log.flush());
    let s = log.stats();
    println!(
        "paced {} records/s for {} s (queue 10000): written {}, dropped {}, write errors {}",
        a.rate, a.paced_secs, s.written, s.dropped, s.write_errors
    );
}

/// This process's CPU time (all threads, finished ones included), ms
/// (`/proc/self/stat` utime + stime, in 10 ms ticks).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    f.iter().sum::<f64>() * 10.0
}

/// Runs `f` three times; the median wall time, ms, the mean CPU time
/// (every thread of the query), ms, and the last result.
fn median_ms<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::new();
    let mut last = None;
    let cpu0 = cpu_ms();
    for _ in 0..3 {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = (cpu_ms() - cpu0) / 3.0;
    times.sort_by(f64::total_cmp);
    LAST_CPU.with(|c| c.set(cpu));
    (times[1], last.unwrap())
}

thread_local! {
    /// The CPU time of the last [`median_ms`], for the report.
    static LAST_CPU: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

fn last_cpu() -> f64 {
    LAST_CPU.with(std::cell::Cell::get)
}

fn queries(path: &Path, start: u64, n: u64) {
    let reader = LogReader::open(path).unwrap();
    let end = start + n / 36;
    let q = |f: &dyn Fn(&mut Query)| {
        let mut q = Query::default();
        f(&mut q);
        q
    };
    let facet = |f: Facet| q(&|q| q.facets = vec![f.clone()]);
    let cases: Vec<(&str, Query)> = vec![
        ("newest 100", Query::default()),
        ("tenant=t01", q(&|q| q.tenant = Some("t01".into()))),
        ("tenant=nobody", q(&|q| q.tenant = Some("nobody".into()))),
        ("route=r07", q(&|q| q.route = Some("r07".into()))),
        ("outcome=failed", q(&|q| q.outcome = Some("failed".into()))),
        ("alias=alias-3", facet(Facet::Alias("alias-3".into()))),
        ("provider=p3", facet(Facet::Provider("p3".into()))),
        (
            "model_version=m-0 (oldest)",
            facet(Facet::ModelVersion("m-0".into())),
        ),
        (
            "prompt_version",
            facet(Facet::PromptVersion("support@v2".into())),
        ),
        (
            "policy_version=pv-1",
            facet(Facet::PolicyVersion("pv-1".into())),
        ),
        ("intent=action", facet(Facet::Intent("action".into()))),
        ("tools=true", facet(Facet::Tools(true))),
        (
            "degraded=fallback-route",
            facet(Facet::Degraded("fallback-route".into())),
        ),
        (
            "time range (1 min in the middle)",
            q(&|q| {
                q.since_ms = Some(start + (end - start) / 2);
                q.until_ms = Some(start + (end - start) / 2 + 60_000);
            }),
        ),
        (
            "tenant+route+outcome, oldest hour",
            q(&|q| {
                q.tenant = Some("t04".into());
                q.route = Some("r13".into());
                q.outcome = Some("served".into());
                q.until_ms = Some(start + 3_600_000);
            }),
        ),
        (
            "request_id (caller's)",
            q(&|q| q.request_id = Some(format!("client-{}", n / 2 / 10 * 10))),
        ),
    ];
    println!("\nquery over {n} records (median of 3, ms; records returned)");
    for (name, query) in &cases {
        let (ms, got) = median_ms(|| reader.query(query).unwrap().len());
        println!("  list {name:<36} {ms:>8.1} ms  {got}");
    }
    for (name, by) in GroupBy::ALL {
        let (ms, groups) = median_ms(|| reader.aggregate(&Query::default(), by).unwrap().len());
        println!(
            "  group_by {name:<32} {ms:>8.1} ms  (CPU {:.0} ms)  {groups} groups (all {n} records)",
            last_cpu()
        );
    }
    let half = q(&|q| q.until_ms = Some(start + (end - start) / 2));
    let (ms, groups) = median_ms(|| reader.aggregate(&half, GroupBy::Route).unwrap().len());
    println!(
        "  group_by route, first half of the time (a window: the index) {ms:>8.1} ms  (CPU {:.0} ms)  {groups} groups",
        last_cpu()
    );
    let filtered = q(&|q| q.tenant = Some("t01".into()));
    let (ms, groups) = median_ms(|| reader.aggregate(&filtered, GroupBy::Route).unwrap().len());
    println!(
        "  group_by route, tenant=t01           {ms:>8.1} ms  (CPU {:.0} ms)  {groups} groups",
        last_cpu()
    );
    let (ms, s) = median_ms(|| reader.summary(start, end + 1, None).unwrap());
    println!(
        "  what-changed window (all records)    {ms:>8.1} ms  {} requests",
        s.requests
    );
    let (ms, _) = median_ms(|| reader.summary(end - 30_000, end + 1, None).unwrap());
    println!(
        "  what-changed window (last 30 s)      {ms:>8.1} ms  (CPU {:.0} ms)",
        last_cpu()
    );
}
