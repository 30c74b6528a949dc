#!/usr/bin/env bash
# bench/failover.sh: what a provider outage costs a request going through Signalbox.
#
# On 127.0.0.1 only, it starts two `signalbox mock-provider`s (primary, secondary) and
# two gateways on examples/failover.yaml (decision log off):
#   - "breakers" as shipped (the primary's circuit opens after 5 failures);
#   - "no-breaker": the same with breakers that never open, so every request
#     pays for a failed primary attempt before the secondary serves it.
# Then, at a fixed rate with oha (open loop, latency correction), it measures:
#   healthy      primary up                      (breakers gateway)
#   failover     primary answers 503 every time   (no-breaker gateway)
#   open         primary answers 503; circuit open (breakers gateway)
# and reports p50/p99 and the latency added over "healthy" for each.
# The failover cost is one failed upstream round trip; with the circuit open
# the primary is skipped and the cost should be near zero.
#
# Usage:  bench/failover.sh        Knobs: RATE=300 DURATION=15 CONNECTIONS=32
#         SKIP_BUILD=1, SIGNALBOX_BIN=path, OHA_ROOT=dir (see bench/overhead.sh)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RATE=${RATE:-300}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-32}
SKIP_BUILD=${SKIP_BUILD:-0}
BODY='{"model":"chat","messages":[{"role":"user","content":"hello benchmark"}]}'

BENCH_NAME=failover
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
require_positive RATE DURATION CONNECTIONS

read -r P_PORT S_PORT G1_PORT G2_PORT < <(free_ports 4)

"$BIN" mock-provider --listen "127.0.0.1:$P_PORT" --name primary >"$WORK/primary.log" 2>&1 &
PIDS+=($!)
"$BIN" mock-provider --listen "127.0.0.1:$S_PORT" --name secondary >"$WORK/secondary.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$P_PORT/_mock/stats"
wait_ready "http://127.0.0.1:$S_PORT/_mock/stats"

cp "$REPO/examples/failover.yaml" "$WORK/breakers.yaml"
{
    cat "$REPO/examples/failover.yaml"
    printf '\nresilience:\n  breaker: { consecutive-failures: 1000000, min-requests: 1000000 }\n  retry: { budget-ratio: 1.0, budget-min-retries: 1000000 }\n'
} >"$WORK/no-breaker.yaml"

start_gateway() {
    local name=$1 port=$2
    PRIMARY_URL="http://127.0.0.1:$P_PORT/v1" SECONDARY_URL="http://127.0.0.1:$S_PORT/v1" \
        DECISION_LOG=false RUST_LOG=error \
        "$BIN" serve --config "$WORK/$name.yaml" --listen "127.0.0.1:$port" --no-watch \
        >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_ready "http://127.0.0.1:$port/healthz"
}
start_gateway breakers "$G1_PORT"
start_gateway no-breaker "$G2_PORT"

faults() {
    curl -fsS -o /dev/null -X POST -H 'content-type: application/json' \
        -d "$1" "http://127.0.0.1:$P_PORT/_mock/faults"
}

run() {
    local name=$1 port=$2
    log "$name: ${RATE} req/s for ${DURATION}s"
    "$OHA" --no-tui --output-format json -m POST -H 'content-type: application/json' -d "$BODY" \
        -c "$CONNECTIONS" -z "${DURATION}s" -q "$RATE" --latency-correction -w \
        "http://127.0.0.1:$port/v1/chat/completions" >"$WORK/$name.json"
    sleep 1
}

faults '{}'
# Both gateways warm up first (the tokenizer loads on first use, ~150 ms).
DURATION=5 run warmup-no-breaker "$G2_PORT"
run warmup "$G1_PORT"
run healthy "$G1_PORT"
faults '{"error_rate": 1.0, "error_status": 503}'
run failover "$G2_PORT"
# Trip the breaker, then measure with it open (open-for is 30 s: keep runs shorter).
for _ in 1 2 3 4 5 6; do
    curl -fsS -o /dev/null -H 'content-type: application/json' -d "$BODY" \
        "http://127.0.0.1:$G1_PORT/v1/chat/completions"
done
DURATION=$((DURATION > 20 ? 20 : DURATION)) run open "$G1_PORT"
faults '{}'

mkdir -p "$BENCH_DIR/results"
OUT="$BENCH_DIR/results/failover-$(date +%Y%m%d-%H%M%S).txt"
python3 - "$WORK" "$RATE" <<'EOF' | tee "$OUT"
import json, sys
from pathlib import Path
work, rate = Path(sys.argv[1]), sys.argv[2]
def load(name):
    d = json.loads((work / f"{name}.json").read_text())
    p = d.get("latencyPercentiles", {})
    st = {int(k): v for k, v in d.get("statusCodeDistribution", {}).items()}
    ok = sum(v for k, v in st.items() if 200 <= k < 300)
    return {"p50": p["p50"] * 1e3, "p99": p["p99"] * 1e3, "ok": ok, "all": sum(st.values())}
runs = {n: load(n) for n in ("healthy", "failover", "open")}
base = runs["healthy"]
print(f"Signalbox failover cost at {rate} req/s (loopback mocks, decision log off)")
print(f"{'scenario':<10} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} {'ok':>12}")
for name, r in runs.items():
    print(f"{name:<10} {r['p50']:8.3f} {r['p99']:8.3f} {r['p50']-base['p50']:8.3f} "
          f"{r['p99']-base['p99']:8.3f} {r['ok']:>6}/{r['all']:<5}")
EOF
curl -fsS "http://127.0.0.1:$P_PORT/_mock/stats" | python3 -c 'import json,sys; print("primary requests:", json.load(sys.stdin)["requests"])' | tee -a "$OUT"
log "written to $OUT"
