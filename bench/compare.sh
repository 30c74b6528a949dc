#!/usr/bin/env bash
# bench/compare.sh: the gateway set against a plain nginx reverse-proxy hop
# measured in the same run, on the same machine, in front of the same mock —
# issue 18's yardstick. Runs bench/nginx-reference.sh (nginx, 1 worker by
# default, upstream keep-alive) and bench/overhead.sh (the gateway with the
# policy, decision log, metrics and trace context its config turns on),
# ROUNDS times alternately, then prints each figure and its ratio to nginx's:
#   CPU per request at maximum throughput   (target: ≤ 1.5× nginx)
#   CPU per request at 2,000 req/s          (target: ≤ 2× nginx)
#   added p99 at 2,000 req/s                (target: ≤ nginx's + 0.2 ms)
# Medians over the rounds. The raw runs stay in bench/results/.
#
# Usage:  bench/compare.sh            (builds the release binary first)
# Knobs:  ROUNDS=2  SKIP_BUILD=1  NGINX_WORKERS=1  GATEWAY_CONFIG=path  plus
#         the knobs of overhead.sh and nginx-reference.sh (DURATION, MAX_DURATION, …)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
ROUNDS=${ROUNDS:-2}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
export SIGNALBOX_BIN=${SIGNALBOX_BIN:-$TARGET_DIR/release/signalbox}
export NGINX_WORKERS=${NGINX_WORKERS:-1}

if [[ -z ${SKIP_BUILD:-} ]]; then
    (cd "$REPO" && cargo build --release -p signalbox)
fi
export SKIP_BUILD=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS: nginx"
    NGINX_JSON=$WORK/nginx-$round.json bash "$BENCH_DIR/nginx-reference.sh"
    echo "== round $round/$ROUNDS: gateway"
    bash "$BENCH_DIR/overhead.sh" | tail -n 25
    latest=$(ls -td "$BENCH_DIR"/results/overhead-*.raw | head -n 1)
    cp "$latest/summary.json" "$WORK/gateway-$round.json"
done

python3 - "$WORK" "$ROUNDS" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
load = lambda name: [json.load(open(f"{work}/{name}-{r}.json")) for r in range(1, rounds + 1)]
nginx, gw = load("nginx"), load("gateway")
med = lambda rows, key: statistics.median(r[key] for r in rows if key in r)
print()
print(f"Gateway vs nginx ({nginx[0]['workers']:.0f} worker(s)), medians of {rounds} alternated round(s)")
print(f"{'figure':<34} {'nginx':>10} {'gateway':>10} {'ratio':>7}  target")
rows = [
    ("max throughput (req/s)", "max_ok_per_sec", None),
    ("CPU/req at max (us)", "cpu_us_per_req_max", 1.5),
    ("CPU/req at 2,000 req/s (us)", "cpu_us_per_req_2000", 2.0),
]
for label, key, target in rows:
    n, g = med(nginx, key), med(gw, key)
    ratio = g / n if n else float("nan")
    verdict = "" if target is None else f"<= {target}x {'PASS' if ratio <= target else 'MISS'}"
    print(f"{label:<34} {n:>10.1f} {g:>10.1f} {ratio:>6.2f}x  {verdict}")
for p in ("p50", "p99"):
    n, g = med(nginx, f"added_{p}_ms_2000"), med(gw, f"added_{p}_ms_2000")
    verdict = f"<= nginx + 0.2 ms {'PASS' if g <= n + 0.2 else 'MISS'}" if p == "p99" else ""
    print(f"{'added ' + p + ' at 2,000 req/s (ms)':<34} {n:>+10.3f} {g:>+10.3f} {g - n:>+6.3f}   {verdict}")
if "peak_rss_mib" in gw[0]:
    print(f"{'gateway peak RSS (MiB)':<34} {'':>10} {med(gw, 'peak_rss_mib'):>10.1f}")
for r, g in enumerate(gw, 1):
    if "decision_log_max" in g:
        d = g["decision_log_max"]
        print(f"round {r}: decision log at max: {d['written']} written, {d['dropped']} dropped")
PY
