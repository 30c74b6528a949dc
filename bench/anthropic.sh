#!/usr/bin/env bash
# bench/anthropic.sh: what the gateway adds on each ingress path, Anthropic's included.
#
# On 127.0.0.1 only, it starts two `signalbox mock-provider`s (Anthropic and OpenAI
# wire formats) and one `signalbox serve` on examples/translation.yaml (decision log
# off), then, at a fixed rate with oha (open loop, latency correction), alternates:
#   anthropic-direct   oha -> Anthropic mock, POST /v1/messages
#   passthrough        oha -> gateway /v1/messages -> Anthropic route (the client's
#                      body passed on, the answer passed back: same family)
#   translated         oha -> gateway /v1/messages -> OpenAI-compatible route
#                      (Anthropic -> OpenAI view -> upstream, answer translated back)
#   openai-direct      oha -> OpenAI mock, POST /v1/chat/completions
#   openai             oha -> gateway /v1/chat/completions -> OpenAI-compatible route
# and reports p50/p99, the latency added over the direct run of the same upstream,
# and the gateway's CPU time per request in each gateway run.
#
# Usage:  bench/anthropic.sh      Knobs: RATE=1000 DURATION=15 CONNECTIONS=32
#         SKIP_BUILD=1, SIGNALBOX_BIN=path, OHA_ROOT=dir (see bench/overhead.sh)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RATE=${RATE:-1000}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-32}
SKIP_BUILD=${SKIP_BUILD:-0}
MESSAGES='"messages":[{"role":"user","content":"hello benchmark"}]'
ANTHROPIC_BODY='{"model":"MODEL","max_tokens":256,'$MESSAGES'}'
OPENAI_BODY='{"model":"MODEL",'$MESSAGES'}'

BENCH_NAME=anthropic
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
require_positive RATE DURATION CONNECTIONS

read -r A_PORT O_PORT G_PORT < <(free_ports 3)

"$BIN" mock-provider --format anthropic --listen "127.0.0.1:$A_PORT" --name claude \
    >"$WORK/claude.log" 2>&1 &
PIDS+=($!)
"$BIN" mock-provider --format openai --listen "127.0.0.1:$O_PORT" --name gpt \
    >"$WORK/gpt.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$A_PORT/_mock/stats"
wait_ready "http://127.0.0.1:$O_PORT/_mock/stats"

ANTHROPIC_URL="http://127.0.0.1:$A_PORT" OPENAI_URL="http://127.0.0.1:$O_PORT/v1" \
    DECISION_LOG=false RUST_LOG=error \
    "$BIN" serve --config "$REPO/examples/translation.yaml" --listen "127.0.0.1:$G_PORT" \
    --no-watch >"$WORK/gateway.log" 2>&1 &
GATEWAY=$!
PIDS+=($GATEWAY)
wait_ready "http://127.0.0.1:$G_PORT/readyz"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run NAME URL_PATH_ON_PORT PORT BODY
run() {
    local name=$1 port=$2 path=$3 body=$4 before after
    log "$name: ${RATE} req/s for ${DURATION}s"
    before=$(cpu_ticks "$GATEWAY")
    "$OHA" --no-tui --output-format json -m POST -H 'content-type: application/json' \
        -H 'anthropic-version: 2023-06-01' -d "$body" \
        -c "$CONNECTIONS" -z "${DURATION}s" -q "$RATE" --latency-correction -w \
        "http://127.0.0.1:$port$path" >"$WORK/$name.json"
    after=$(cpu_ticks "$GATEWAY")
    echo "$((after - before))" >"$WORK/$name.ticks"
    sleep 1
}

claude=${ANTHROPIC_BODY/MODEL/claude-sonnet-4-5}
via_claude=${ANTHROPIC_BODY/MODEL/chat-claude}
via_gpt=${ANTHROPIC_BODY/MODEL/chat-gpt}
gpt=${OPENAI_BODY/MODEL/gpt-4o-mini}
openai_gpt=${OPENAI_BODY/MODEL/chat-gpt}
# Warm-up of every path (connection pools, the token encoder).
DURATION=3 run warmup-a "$G_PORT" /v1/messages "$via_claude"
DURATION=3 run warmup-b "$G_PORT" /v1/messages "$via_gpt"
DURATION=3 run warmup-c "$G_PORT" /v1/chat/completions "$openai_gpt"
for round in 1 2; do
    run "anthropic-direct-$round" "$A_PORT" /v1/messages "$claude"
    run "passthrough-$round" "$G_PORT" /v1/messages "$via_claude"
    run "translated-$round" "$G_PORT" /v1/messages "$via_gpt"
    run "openai-direct-$round" "$O_PORT" /v1/chat/completions "$gpt"
    run "openai-$round" "$G_PORT" /v1/chat/completions "$openai_gpt"
done

mkdir -p "$BENCH_DIR/results"
OUT="$BENCH_DIR/results/anthropic-$(date +%Y%m%d-%H%M%S).txt"
python3 - "$WORK" "$RATE" "$(getconf CLK_TCK)" <<'EOF' | tee "$OUT"
import json, sys
from pathlib import Path
work, rate, hz = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
def load(name):
    d = json.loads((work / f"{name}.json").read_text())
    p = d.get("latencyPercentiles", {})
    st = {int(k): v for k, v in d.get("statusCodeDistribution", {}).items()}
    ok = sum(v for k, v in st.items() if 200 <= k < 300)
    ticks = int((work / f"{name}.ticks").read_text())
    cpu_us = ticks / hz * 1e6 / max(ok, 1)
    return {"p50": p["p50"] * 1e3, "p99": p["p99"] * 1e3, "ok": ok, "all": sum(st.values()),
            "cpu": cpu_us}
base_of = {"passthrough": "anthropic-direct", "translated": "openai-direct",
           "openai": "openai-direct"}
print(f"Signalbox per ingress path at {rate} req/s (loopback mocks, decision log off)")
print("added = gateway run - direct run of the same upstream in the same round")
print(f"{'run':<20} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} "
      f"{'CPU/req':>9} {'ok':>12}")
for rnd in (1, 2):
    for name in ("anthropic-direct", "passthrough", "translated", "openai-direct", "openai"):
        r = load(f"{name}-{rnd}")
        if name in base_of:
            b = load(f"{base_of[name]}-{rnd}")
            added = f"{r['p50']-b['p50']:8.3f} {r['p99']-b['p99']:8.3f} {r['cpu']:7.1f}us"
        else:
            added = f"{'':8} {'':8} {'':9}"
        print(f"{name + ' #' + str(rnd):<20} {r['p50']:8.3f} {r['p99']:8.3f} {added} "
              f"{r['ok']:>6}/{r['all']:<5}")
EOF
log "written to $OUT"
