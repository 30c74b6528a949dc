#!/usr/bin/env python3
"""Summarises one run of bench/overhead.sh: reads its work directory, prints the table.

Inputs (all written by overhead.sh into WORKDIR):
  meta.txt    key=value lines (host, commit, settings, load averages, memory)
  runs.tsv    one oha run a line: name, target, rate ("max" or req/s), connections,
              oha JSON file, gateway CPU ticks used, mock CPU ticks used, clock ticks/s
  *.json      oha's JSON reports (latencies in seconds)
  ttfb.json   bench/ttfb.py's report (milliseconds)

Usage: overhead_report.py WORKDIR
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

# Targets (see docs/benchmarks.md).
CPU_US_PER_REQ_MAX = 60.0
ADDED_P50_MS_MAX = 0.150
ADDED_P99_MS_MAX = 1.0
TARGET_RATE = 2000
ADDED_TTFB_MS_MAX = 0.5


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "PASS" if ok else "MISS"


def fmt_ms(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def read_meta(workdir: Path) -> dict[str, str]:
    meta = {}
    for line in (workdir / "meta.txt").read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            meta[key.strip()] = value.strip()
    return meta


class Run:
    def __init__(self, workdir: Path, fields: list[str]) -> None:
        (self.name, self.target, self.rate, conns, file, gw_ticks, mock_ticks, hz) = fields
        self.connections = int(conns)
        data = json.loads((workdir / file).read_text())
        self.summary = data["summary"]
        pct = data.get("latencyPercentiles", {})
        self.p = {k: pct.get(f"p{k}") for k in ("50", "90", "99")}
        self.p = {k: (v * 1000.0 if v is not None else None) for k, v in self.p.items()}
        statuses = {int(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
        errors = data.get("errorDistribution", {})
        deadline = sum(v for k, v in errors.items() if "deadline" in k)
        self.responses = sum(statuses.values())
        self.ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
        self.failed = (self.responses - self.ok) + sum(errors.values()) - deadline
        attempted = self.ok + self.failed
        self.success = (self.ok / attempted) if attempted else float("nan")
        self.errors = errors
        self.statuses = statuses
        elapsed = float(self.summary.get("total") or float("nan"))
        self.ok_per_sec = self.ok / elapsed if elapsed else float("nan")
        hz = float(hz)
        # CPU time of each process over the run, per response the load generator received.
        self.gw_cpu_us = self._per_req(int(gw_ticks), hz)
        self.mock_cpu_us = self._per_req(int(mock_ticks), hz)
        self.gw_cpu_s = int(gw_ticks) / hz
        self.mock_cpu_s = int(mock_ticks) / hz

    def _per_req(self, ticks: int, hz: float) -> float:
        if not self.responses:
            return float("nan")
        return ticks / hz / self.responses * 1e6


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    workdir = Path(sys.argv[1])
    meta = read_meta(workdir)
    runs = [
        Run(workdir, line.split("\t"))
        for line in (workdir / "runs.tsv").read_text().splitlines()
        if line.strip()
    ]
    out: list[str] = []
    w = out.append
    targets: list[tuple[str, str, str]] = []  # (label, figure, verdict)

    title = "Signalbox gateway overhead benchmark (bench/overhead.sh)"
    w(title)
    w("=" * len(title))
    for key, label in [
        ("date", "date"),
        ("commit", "git commit"),
        ("binary", "binary"),
        ("binary_version", "version"),
        ("oha", "load generator"),
        ("host", "host"),
        ("nproc", "nproc"),
        ("cpu_model", "cpu"),
        ("load_start", "load avg (start)"),
        ("load_end", "load avg (end)"),
        ("settings", "settings"),
    ]:
        if key in meta:
            w(f"{label:<18}{meta[key]}")
    w("")
    w("All processes on 127.0.0.1: oha -> mock (direct) or oha -> gateway -> mock (gateway).")
    w("Latency: oha, open loop (-q RATE --latency-correction), ms. 'added' = gateway - direct,")
    w("per percentile. CPU: the process's utime+stime over the run / responses received.")
    w("")

    # --- fixed-rate scenarios
    fixed = [r for r in runs if r.rate != "max"]
    if fixed:
        w("Fixed rate, non-streaming (CPU/req: the mock's on direct rows, the gateway's on gateway rows)")
        header = (
            f"{'rate':>7} {'target':<8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
            f"{'success':>8} {'ok/s':>8} {'CPU/req':>9}  targets"
        )
        w(header)
        w("-" * len(header))
        rates = []
        for r in fixed:
            if r.rate not in rates:
                rates.append(r.rate)
        for rate in rates:
            by_target = {r.target: r for r in fixed if r.rate == rate}
            for name in ("direct", "gateway"):
                r = by_target.get(name)
                if r is None:
                    continue
                cpu = f"{r.gw_cpu_us if name == 'gateway' else r.mock_cpu_us:.1f}us"
                w(
                    f"{rate + '/s':>7} {name:<8} {fmt_ms(r.p['50']):>8} {fmt_ms(r.p['90']):>8} "
                    f"{fmt_ms(r.p['99']):>8} {r.success * 100:>7.2f}% {r.ok_per_sec:>8.0f} {cpu:>9}"
                )
            d, g = by_target.get("direct"), by_target.get("gateway")
            if d and g:
                added = {k: (g.p[k] - d.p[k]) if g.p[k] is not None and d.p[k] is not None else None
                         for k in ("50", "90", "99")}
                note = ""
                if int(float(rate)) == TARGET_RATE:
                    ok50 = added["50"] is not None and added["50"] <= ADDED_P50_MS_MAX
                    ok99 = added["99"] is not None and added["99"] <= ADDED_P99_MS_MAX
                    note = (f"p50 {verdict(ok50)} (<= {ADDED_P50_MS_MAX:.3f}), "
                            f"p99 {verdict(ok99)} (<= {ADDED_P99_MS_MAX:.3f})")
                    targets.append((f"added latency p50 at {TARGET_RATE} req/s <= 150 us",
                                    f"{added['50'] * 1000:+.0f} us" if added["50"] is not None else "-",
                                    verdict(ok50)))
                    targets.append((f"added latency p99 at {TARGET_RATE} req/s <= 1 ms",
                                    f"{added['99']:+.3f} ms" if added["99"] is not None else "-",
                                    verdict(ok99)))
                w(
                    f"{rate + '/s':>7} {'added':<8} {fmt_ms(added['50'], True):>8} "
                    f"{fmt_ms(added['90'], True):>8} {fmt_ms(added['99'], True):>8} "
                    f"{'':>8} {'':>8} {'':>9}  {note}"
                )
        if not any(int(float(r.rate)) == TARGET_RATE for r in fixed):
            targets.append((f"added latency at {TARGET_RATE} req/s", "not measured (RATES)", "n/a"))
        w("")

    # --- max throughput
    maxed = {r.target: r for r in runs if r.rate == "max"}
    if maxed:
        conns = next(iter(maxed.values())).connections
        w(f"Max throughput, non-streaming ({conns} connections, no rate limit)")
        header = (
            f"{'target':<8} {'ok/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'success':>8} "
            f"{'gateway CPU/req':>16} {'mock CPU/req':>13}"
        )
        w(header)
        w("-" * len(header))
        for name in ("direct", "gateway"):
            r = maxed.get(name)
            if r is None:
                continue
            gw = f"{r.gw_cpu_us:.1f} us" if name == "gateway" else "-"
            w(
                f"{name:<8} {r.ok_per_sec:>8.0f} {fmt_ms(r.p['50']):>8} {fmt_ms(r.p['99']):>8} "
                f"{r.success * 100:>7.2f}% {gw:>16} {r.mock_cpu_us:>10.1f} us"
            )
        g = maxed.get("gateway")
        if g is not None:
            ok = g.gw_cpu_us <= CPU_US_PER_REQ_MAX
            w(f"gateway CPU per request: {g.gw_cpu_us:.1f} us "
              f"({g.gw_cpu_s:.2f} s CPU for {g.responses} requests)  "
              f"{verdict(ok)} (<= {CPU_US_PER_REQ_MAX:.0f} us)")
            targets.append(("gateway CPU per request <= 60 us", f"{g.gw_cpu_us:.1f} us", verdict(ok)))
        w("")

    # --- decision log: did the writer keep up?
    if "decision_log_before_max" in meta and "decision_log_after_max" in meta:
        w0, d0 = (int(x) for x in meta["decision_log_before_max"].split())
        w1, d1 = (int(x) for x in meta["decision_log_after_max"].split())
        if w1 or d1:
            w("Decision log (from the gateway's /metrics)")
            w(f"fixed-rate runs and warm-up: {w0} records written, {d0} dropped")
            dropped = d1 - d0
            total = (w1 - w0) + dropped
            share = f" ({dropped / total * 100:.1f}% of them)" if total else ""
            w(f"max-throughput run: {w1 - w0} written, {dropped} dropped{share}; a dropped record's "
              "writer CPU is not in the CPU/req figure")
            # The writer thread's share of the gateway's CPU at each fixed rate.
            for r in runs:
                ticks = meta.get(f"decision_log_writer_ticks_rate{r.rate}")
                if r.target == "gateway" and r.rate != "max" and ticks is not None:
                    writer_us = r._per_req(int(ticks), float(meta.get("clk_tck", 100)))
                    w(f"{r.rate}/s: writer thread {writer_us:.1f} us of the gateway's "
                      f"{r.gw_cpu_us:.1f} us CPU per request")
            w("")

    # --- first requests after start (cold start)
    if "first_requests_ms" in meta:
        first = [float(x) for x in meta["first_requests_ms"].split()]
        warm = [float(x) for x in meta.get("warm_requests_ms", "").split()]
        if first:
            w("First requests after start (each on a new connection, right after /readyz; ms)")
            w(f"first: {first[0]:.2f}   max of first {len(first)}: {max(first):.2f}   "
              f"all: {' '.join(f'{x:.2f}' for x in first)}")
            if warm:
                w(f"warm, the same way: max {max(warm):.2f}   all: {' '.join(f'{x:.2f}' for x in warm)}")
            w(f"workers that took connections: {meta.get('first_requests_workers', '?')}; "
              f"warm-up per worker before ready (s): {meta.get('warm_up_seconds', '?') or '?'}")
            w("")

    # --- memory
    if "gateway_vmhwm_kb" in meta:
        w("Memory (end of run)")
        w(f"gateway peak RSS (VmHWM) {int(meta['gateway_vmhwm_kb']) / 1024:.1f} MiB, "
          f"current RSS {int(meta.get('gateway_vmrss_kb', 0)) / 1024:.1f} MiB; "
          f"mock peak RSS {int(meta.get('mock_vmhwm_kb', 0)) / 1024:.1f} MiB")
        w("")

    # --- streaming
    ttfb_file = workdir / "ttfb.json"
    if ttfb_file.exists():
        t = json.loads(ttfb_file.read_text())
        n = t.get("requests_per_target")
        w(f"Streaming: time to first chunk ({n} sequential requests per target, alternating; ms)")
        header = (f"{'target':<8} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8} "
                  f"{'head p50':>9} {'total p50':>10} {'errors':>7}")
        w(header)
        w("-" * len(header))
        for name in ("direct", "gateway"):
            s = t[name]
            f = s["first_chunk"]
            w(f"{name:<8} {fmt_ms(f['p50']):>8} {fmt_ms(f['p90']):>8} {fmt_ms(f['p99']):>8} "
              f"{fmt_ms(f['mean']):>8} {fmt_ms(s['head']['p50']):>9} "
              f"{fmt_ms(s['total']['p50']):>10} {s['errors']:>7}")
        a = t["added_first_chunk"]
        ok = a["p50"] <= ADDED_TTFB_MS_MAX
        w(f"{'added':<8} {fmt_ms(a['p50'], True):>8} {fmt_ms(a['p90'], True):>8} "
          f"{fmt_ms(a['p99'], True):>8} {fmt_ms(a['mean'], True):>8}  "
          f"p50 {verdict(ok)} (<= {ADDED_TTFB_MS_MAX})")
        targets.append(("added time to first chunk (p50) <= 0.5 ms", f"{a['p50']:+.3f} ms", verdict(ok)))
        w("")

    # --- anomalies worth a look
    notes = []
    for r in runs:
        if r.failed:
            notes.append(f"{r.name}: {r.failed} failed requests; statuses {r.statuses}, errors {r.errors}")
    if notes:
        w("Warnings")
        for note in notes:
            w(f"  {note}")
        w("")

    w("Targets")
    for label, figure, v in targets:
        w(f"  {v:<5} {label:<46} {figure}")

    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    (workdir / "summary.json").write_text(json.dumps(summary(runs, meta), indent=1))
    return 0


def summary(runs: list[Run], meta: dict) -> dict:
    """The figures bench/compare.sh sets against nginx's, as JSON."""
    out: dict = {}
    for r in runs:
        if r.target != "gateway":
            continue
        if r.rate == "max":
            out["max_ok_per_sec"] = r.ok_per_sec
            out["cpu_us_per_req_max"] = r.gw_cpu_us
        elif int(float(r.rate)) == TARGET_RATE:
            out["cpu_us_per_req_2000"] = r.gw_cpu_us
            direct = next((d for d in runs if d.target == "direct" and d.rate == r.rate), None)
            if direct and r.p["99"] is not None and direct.p["99"] is not None:
                out["added_p50_ms_2000"] = r.p["50"] - direct.p["50"]
                out["added_p99_ms_2000"] = r.p["99"] - direct.p["99"]
    if "gateway_vmhwm_kb" in meta:
        out["peak_rss_mib"] = int(meta["gateway_vmhwm_kb"]) / 1024
    if "decision_log_before_max" in meta and "decision_log_after_max" in meta:
        w0, d0 = (int(x) for x in meta["decision_log_before_max"].split())
        w1, d1 = (int(x) for x in meta["decision_log_after_max"].split())
        out["decision_log_max"] = {"written": w1 - w0, "dropped": d1 - d0}
    return out


if __name__ == "__main__":
    sys.exit(main())
