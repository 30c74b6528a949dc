#!/usr/bin/env bash
# bench/quality-overhead.sh: what the quality machinery costs when no
# evaluation is due (issue 15: within 3 % CPU per request). The same binary
# serves examples/failover.yaml as it is ("off") and with a `quality:`
# section whose suite runs once an hour ("on"), ROUNDS times alternately, at
# maximum throughput (64 connections); prints the gateway's CPU per request
# and the decision-log drops of each run, then the medians and their ratio.
#
# Usage:  bench/quality-overhead.sh            (builds the release binary first)
# Knobs:  ROUNDS=3  SECS=8  SKIP_BUILD=1  SIGNALBOX_BIN=path
set -euo pipefail
BENCH_NAME=quality-overhead
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
require_positive ROUNDS SECS

cp "$REPO/examples/failover.yaml" "$WORK/off.yaml"
cp "$REPO/crates/signalbox-eval/tests/labelled/support.suite.yaml" "$WORK/"
{
    cat "$REPO/examples/failover.yaml"
    printf '\nquality:\n  every: 1h\n  suites:\n    - path: support.suite.yaml\n      min-pass-rate: { refusal: 0.5 }\n'
} >"$WORK/on.yaml"
BODY='{"model":"chat","messages":[{"role":"user","content":"hello benchmark"}]}'
TCK=$(getconf CLK_TCK)

# One run: prints "CPU-us-per-request dropped-records" for config $1.
run() {
    local config=$1 mock gw mock_pid gw_pid t0 t1
    read -r mock gw < <(free_ports 2)
    "$BIN" mock-provider --listen "127.0.0.1:$mock" --name quality >"$WORK/mock.log" 2>&1 &
    mock_pid=$!
    PIDS+=("$mock_pid")
    wait_ready "http://127.0.0.1:$mock/v1/models"
    (cd "$WORK" && PRIMARY_URL=http://127.0.0.1:$mock/v1 SECONDARY_URL=http://127.0.0.1:$mock/v1 \
        DECISION_DB="$WORK/decisions-$config.db" \
        exec "$BIN" serve --config "$WORK/$config.yaml" --listen "127.0.0.1:$gw" >"$WORK/gateway.log" 2>&1) &
    gw_pid=$!
    PIDS+=("$gw_pid")
    wait_ready "http://127.0.0.1:$gw/readyz"
    "$OHA" --no-tui -z 2s -c 64 -m POST -H 'content-type: application/json' -d "$BODY" \
        "http://127.0.0.1:$gw/v1/chat/completions" >/dev/null
    t0=$(awk '{print $14 + $15}' "/proc/$gw_pid/stat")
    "$OHA" --no-tui --output-format json -z "${SECS}s" -c 64 -m POST -H 'content-type: application/json' \
        -d "$BODY" "http://127.0.0.1:$gw/v1/chat/completions" >"$WORK/run.json"
    t1=$(awk '{print $14 + $15}' "/proc/$gw_pid/stat")
    local dropped
    dropped=$(curl -fsS "http://127.0.0.1:$gw/metrics" | awk '/^signalbox_decision_log_dropped_total/ {print $2}')
    kill -TERM "$gw_pid" "$mock_pid" 2>/dev/null || true
    wait "$gw_pid" "$mock_pid" 2>/dev/null || true
    rm -f "$WORK"/decisions-*
    python3 - "$WORK/run.json" "$t0" "$t1" "$TCK" "${dropped:-0}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t0, t1, tck, dropped = map(float, sys.argv[2:])
ok = sum(v for k, v in d["statusCodeDistribution"].items() if k.startswith("2"))
print(f"{(t1 - t0) / tck / ok * 1e6:.1f} {dropped:.0f}")
PY
}

echo "quality machinery, no evaluation due: $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
offs=() ons=()
for round in $(seq "$ROUNDS"); do
    for config in off on; do
        read -r cpu dropped < <(run "$config")
        echo "round $round $config: CPU/req $cpu us, decision-log records dropped $dropped"
        if [[ $config == off ]]; then offs+=("$cpu"); else ons+=("$cpu"); fi
    done
done
python3 - "${offs[*]}" "${ons[*]}" <<'PY'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
a, b = statistics.median(off), statistics.median(on)
print(f"median CPU/req: off {a:.1f} us, on {b:.1f} us: {100 * (b - a) / a:+.1f} % (budget: +3 %)")
PY
