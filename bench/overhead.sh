#!/usr/bin/env bash
# bench/overhead.sh: what the Signalbox gateway adds on top of its upstream.
#
# In one run, on 127.0.0.1 only, it starts one `signalbox mock-provider` and one
# `signalbox serve` (examples/failover.yaml, both routes pointing at that mock),
# then measures, alternating "direct" (oha -> mock) and "gateway"
# (oha -> gateway -> mock) for every scenario:
#
#   1. fixed rates (RATES, req/s), non-streaming, open loop with latency
#      correction: p50/p90/p99, success rate, added latency (gateway - direct);
#   2. maximum throughput (64 connections, no rate limit): req/s, and CPU time
#      per request of the gateway (and of the mock, as a reference);
#   3. peak RSS of the gateway (VmHWM);
#   4. streaming: added time to first chunk, with bench/ttfb.py;
#   5. first requests after start: right after /readyz says ready, FIRST_REQUESTS
#      requests, each on a new connection (so every per-core worker serves some),
#      then as many again warm; and each worker's warm-up time.
#
# It prints a summary (with PASS/MISS against the targets) and writes it to
# bench/results/overhead-<date>.txt, with the raw oha/ttfb JSON next to it.
#
# Usage:   bench/overhead.sh
# Knobs:   DURATION=20 (s per fixed-rate run)   MAX_DURATION=10 (s per max run)
#          RATES="500 2000"   CONNECTIONS=50   MAX_CONNECTIONS=64
#          TTFB_REQUESTS=200   FIRST_REQUESTS=8   SKIP_BUILD=1 (use the existing release binary)
#          SIGNALBOX_BIN=path (use this binary; implies no build)
#          OHA_ROOT=dir (where oha is looked for / installed; ~/.cache/oha-root)
# Needs:   cargo, python3, curl; oha is installed with cargo if missing.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-20}
MAX_DURATION=${MAX_DURATION:-10}
RATES=${RATES:-"500 2000"}
CONNECTIONS=${CONNECTIONS:-50}
MAX_CONNECTIONS=${MAX_CONNECTIONS:-64}
TTFB_REQUESTS=${TTFB_REQUESTS:-200}
SKIP_BUILD=${SKIP_BUILD:-0}
OHA_ROOT=${OHA_ROOT:-$HOME/.cache/oha-root}

# The mock streams 5 content chunks 2 ms apart. Its chunk delay only paces
# streamed answers, so the same mock serves the non-streaming scenarios too.
STREAM_CHUNKS=5
CHUNK_DELAY_MS=2

# Same body for both targets: the mock accepts any model name, the gateway
# resolves the alias `chat`.
BODY='{"model":"chat","messages":[{"role":"user","content":"hello benchmark"}]}'
STREAM_BODY='{"model":"chat","messages":[{"role":"user","content":"hello benchmark"}],"stream":true}'

log() { printf '[overhead %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for knob in DURATION MAX_DURATION CONNECTIONS MAX_CONNECTIONS TTFB_REQUESTS; do
    [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer (got '${!knob}')"
done
for rate in $RATES; do
    [[ $rate =~ ^[1-9][0-9]*$ ]] || die "RATES must be positive integers (got '$rate')"
done
for tool in python3 curl getconf; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

# --- processes and cleanup -----------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-bench.XXXXXX")
MOCK_PID=""
GATEWAY_PID=""

# Stops what this script started (by pid), shows logs on failure, removes WORK.
cleanup() {
    local status=$?
    local pid
    for pid in $GATEWAY_PID $MOCK_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $GATEWAY_PID $MOCK_PID; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if ((status != 0)); then
        for f in "$WORK"/mock.log "$WORK"/gateway.log; do
            [[ -s $f ]] && { log "last lines of $(basename "$f"):"; tail -n 20 "$f" >&2; }
        done
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools: the signalbox binary and oha ---------------------------------------

if [[ -n ${SIGNALBOX_BIN:-} ]]; then
    BIN=$SIGNALBOX_BIN
else
    TARGET_DIR=${CARGO_TARGET_DIR:-target}
    [[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
    BIN=$TARGET_DIR/release/signalbox
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building the release binary (cargo build --release -p signalbox)"
        (cd "$REPO" && cargo build --release -p signalbox)
    fi
fi
[[ -x $BIN ]] || die "no signalbox binary at $BIN (build it, or unset SKIP_BUILD)"

if command -v oha >/dev/null; then
    OHA=$(command -v oha)
elif [[ -x $OHA_ROOT/bin/oha ]]; then
    OHA=$OHA_ROOT/bin/oha
else
    log "oha not found; installing it into $OHA_ROOT (cargo install oha --locked)"
    cargo install oha --locked --root "$OHA_ROOT"
    OHA=$OHA_ROOT/bin/oha
fi
# Flags changed across oha versions: JSON output, and waiting for in-flight
# requests at the deadline (otherwise they count as "aborted due to deadline").
OHA_HELP=$("$OHA" --help)
if grep -q -- '--output-format' <<<"$OHA_HELP"; then
    OHA_JSON=(--output-format json)
elif grep -q -- '--json' <<<"$OHA_HELP"; then
    OHA_JSON=(-j)
else
    die "$OHA supports no JSON output; install a newer oha (cargo install oha --locked)"
fi
OHA_WAIT=()
grep -q -- '--wait-ongoing-requests-after-deadline' <<<"$OHA_HELP" && OHA_WAIT=(-w)
grep -q -- '--latency-correction' <<<"$OHA_HELP" || die "$OHA has no --latency-correction; install a newer oha"

# --- helpers -------------------------------------------------------------------

# Prints N free TCP ports on 127.0.0.1 (bound together, so distinct).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Waits until URL answers 200 (up to 15 s), failing early if PID exits.
wait_ready() {
    local url=$1 pid=$2 what=$3
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || die "$what exited during startup"
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    die "$what not ready at $url after 15 s"
}

# CPU time (utime + stime, all threads) of PID, in clock ticks.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # drop "pid (comm) "; field 3 (state) becomes $1
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

# A field of /proc/PID/status, in kB (VmHWM, VmRSS).
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

CLK_TCK=$(getconf CLK_TCK)

# One oha run. Records its JSON and the CPU ticks the gateway and the mock
# used meanwhile in runs.tsv. RATE is req/s, or "max" for no rate limit.
#   oha_run NAME TARGET URL RATE CONNECTIONS SECONDS
oha_run() {
    local name=$1 target=$2 url=$3 rate=$4 conns=$5 secs=$6
    local args=(--no-tui "${OHA_JSON[@]}" -m POST -H 'content-type: application/json'
        -d "$BODY" -c "$conns" -z "${secs}s" -t 10s "${OHA_WAIT[@]}")
    [[ $rate == max ]] || args+=(-q "$rate" --latency-correction)
    log "$name: $target, rate $rate, $conns connections, ${secs}s"
    local g0 m0 g1 m1
    g0=$(cpu_ticks "$GATEWAY_PID")
    m0=$(cpu_ticks "$MOCK_PID")
    timeout $((secs + 60)) "$OHA" "${args[@]}" "$url" >"$WORK/$name.json" ||
        die "oha failed for $name"
    g1=$(cpu_ticks "$GATEWAY_PID")
    m1=$(cpu_ticks "$MOCK_PID")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$target" "$rate" "$conns" \
        "$name.json" $((g1 - g0)) $((m1 - m0)) "$CLK_TCK" >>"$WORK/runs.tsv"
    sleep 1 # let queues drain and timers settle between runs
}

# --- start mock and gateway ----------------------------------------------------

read -r MOCK_PORT GATEWAY_PORT < <(free_ports 2)
[[ -n ${GATEWAY_PORT:-} ]] || die "could not pick free ports"
MOCK=http://127.0.0.1:$MOCK_PORT
GATEWAY=http://127.0.0.1:$GATEWAY_PORT
DIRECT_URL=$MOCK/v1/chat/completions
GATEWAY_URL=$GATEWAY/v1/chat/completions

{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    commit=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        commit="$commit (work tree has uncommitted changes)"
    fi
    echo "commit=$commit"
    echo "binary=$BIN (built $(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ))"
    echo "binary_version=$("$BIN" --version)"
    echo "oha=$("$OHA" --version) ($OHA)"
    echo "host=$(uname -sr)"
    echo "nproc=$(nproc)"
    echo "cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "load_start=$(load_avg)"
    echo "clk_tck=$CLK_TCK"
    echo "settings=DURATION=${DURATION}s MAX_DURATION=${MAX_DURATION}s RATES=\"$RATES\"" \
        "CONNECTIONS=$CONNECTIONS MAX_CONNECTIONS=$MAX_CONNECTIONS TTFB_REQUESTS=$TTFB_REQUESTS" \
        "mock: --stream-chunks $STREAM_CHUNKS --chunk-delay-ms $CHUNK_DELAY_MS"
} >"$WORK/meta.txt"
: >"$WORK/runs.tsv"

log "mock-provider on $MOCK"
"$BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" --name bench-mock \
    --stream-chunks "$STREAM_CHUNKS" --chunk-delay-ms "$CHUNK_DELAY_MS" \
    >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
wait_ready "$MOCK/v1/models" "$MOCK_PID" "mock-provider"

log "gateway on $GATEWAY (${GATEWAY_CONFIG:-examples/failover.yaml}, every upstream = the mock)"
# Run from the work dir so the decision log (DECISION_DB) lands there;
# DECISION_LOG=false measures the gateway without it.
(cd "$WORK" && PRIMARY_URL=$MOCK/v1 SECONDARY_URL=$MOCK/v1 UPSTREAM_URL=$MOCK/v1 DECISION_DB="$WORK/decisions.db" \
    DECISION_LOG="${DECISION_LOG:-true}" \
    exec "$BIN" serve --config "${GATEWAY_CONFIG:-$REPO/examples/failover.yaml}" --listen "127.0.0.1:$GATEWAY_PORT" \
    >"$WORK/gateway.log" 2>&1) &
GATEWAY_PID=$!
wait_ready "$GATEWAY/readyz" "$GATEWAY_PID" "gateway"

# First requests after start: the gateway has just said it is ready; each
# request goes on a new connection (one curl each), so the kernel spreads
# them over the per-core workers, and every worker's first request is among
# them. Then as many again, warm, the same way.
# Prints "ms ms ms ..." (curl's time_total per request).
first_requests() {
    local url=$1 n=$2 out=""
    for _ in $(seq "$n"); do
        out+="$(curl -fsS -o /dev/null --max-time 10 -w '%{time_total}' \
            -H 'content-type: application/json' -d "$BODY" "$url" |
            awk '{ printf "%.2f", $1 * 1000 }') "
    done
    echo "$out"
}
FIRST_REQUESTS=${FIRST_REQUESTS:-8}
echo "first_requests_ms=$(first_requests "$GATEWAY_URL" "$FIRST_REQUESTS")" >>"$WORK/meta.txt"
echo "warm_requests_ms=$(first_requests "$GATEWAY_URL" "$FIRST_REQUESTS")" >>"$WORK/meta.txt"
echo "first_requests_workers=$(curl -fsS --max-time 5 "$GATEWAY/metrics" |
    awk '/^signalbox_connections_total\{/ { n++ } END { print n + 0 }')" >>"$WORK/meta.txt"
echo "warm_up_seconds=$(curl -fsS --max-time 5 "$GATEWAY/metrics" |
    awk '/^signalbox_warm_up_seconds\{/ { printf "%s ", $2 }')" >>"$WORK/meta.txt"

# Smoke test: one request each way must succeed before we measure anything.
for url in "$DIRECT_URL" "$GATEWAY_URL"; do
    curl -fsS --max-time 5 -H 'content-type: application/json' -d "$BODY" "$url" |
        grep -q '"choices"' || die "smoke request to $url failed"
done

# --- measure ---------------------------------------------------------------------

# Warm-up (not recorded): connection pools, allocator, page cache.
log "warm-up"
for url in "$DIRECT_URL" "$GATEWAY_URL"; do
    "$OHA" --no-tui "${OHA_JSON[@]}" -m POST -H 'content-type: application/json' -d "$BODY" \
        -n 2000 -c "$CONNECTIONS" "$url" >/dev/null
done

# CPU ticks of the gateway's decision-log writer thread (0 when it has none).
writer_ticks() {
    local task
    for task in /proc/"$GATEWAY_PID"/task/*; do
        if [[ $(cat "$task/comm" 2>/dev/null) == decision-log ]]; then
            cpu_ticks "$GATEWAY_PID/task/$(basename "$task")"
            return
        fi
    done
    echo 0
}

for rate in $RATES; do
    oha_run "rate$rate-direct" direct "$DIRECT_URL" "$rate" "$CONNECTIONS" "$DURATION"
    w0=$(writer_ticks)
    oha_run "rate$rate-gateway" gateway "$GATEWAY_URL" "$rate" "$CONNECTIONS" "$DURATION"
    echo "decision_log_writer_ticks_rate$rate=$(($(writer_ticks) - w0))" >>"$WORK/meta.txt"
done

# The decision log's counters (written, dropped) from the gateway's /metrics,
# after a pause so the writer can commit what it has queued.
log_counts() {
    sleep 1
    curl -fsS --max-time 5 "http://127.0.0.1:$GATEWAY_PORT/metrics" |
        awk '/^signalbox_decision_log_written_total/ { w = $2 } /^signalbox_decision_log_dropped_total/ { d = $2 }
             END { printf "%d %d\n", w, d }'
}
echo "decision_log_before_max=$(log_counts)" >>"$WORK/meta.txt"
oha_run "max-direct" direct "$DIRECT_URL" max "$MAX_CONNECTIONS" "$MAX_DURATION"
oha_run "max-gateway" gateway "$GATEWAY_URL" max "$MAX_CONNECTIONS" "$MAX_DURATION"
echo "decision_log_after_max=$(log_counts)" >>"$WORK/meta.txt"

log "streaming time to first chunk: $TTFB_REQUESTS requests per target"
python3 "$BENCH_DIR/ttfb.py" --direct "$DIRECT_URL" --gateway "$GATEWAY_URL" \
    -n "$TTFB_REQUESTS" --body "$STREAM_BODY" >"$WORK/ttfb.json" ||
    die "ttfb.py failed: $(cat "$WORK/ttfb.json" 2>/dev/null | head -c 2000)"

{
    echo "gateway_vmhwm_kb=$(proc_kb "$GATEWAY_PID" VmHWM)"
    echo "gateway_vmrss_kb=$(proc_kb "$GATEWAY_PID" VmRSS)"
    echo "mock_vmhwm_kb=$(proc_kb "$MOCK_PID" VmHWM)"
    echo "load_end=$(load_avg)"
} >>"$WORK/meta.txt"

# --- report ------------------------------------------------------------------------

RESULTS=$BENCH_DIR/results
STAMP=$(date +%Y-%m-%d-%H%M%S)
mkdir -p "$RESULTS/overhead-$STAMP.raw"
python3 "$BENCH_DIR/overhead_report.py" "$WORK" | tee "$RESULTS/overhead-$STAMP.txt"
cp "$WORK"/*.json "$WORK"/runs.tsv "$WORK"/meta.txt "$WORK"/*.log "$RESULTS/overhead-$STAMP.raw/"
log "written: bench/results/overhead-$STAMP.txt (raw data in overhead-$STAMP.raw/)"
