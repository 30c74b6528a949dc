#!/usr/bin/env bash
# bench/nginx-reference.sh: the yardstick for bench/overhead.sh — what a plain
# nginx reverse-proxy hop costs on this machine, measured the same way.
#
# Starts one `signalbox mock-provider` and nginx (2 worker processes,
# upstream keep-alive, access log off) proxying to it, on 127.0.0.1 only, then:
#   1. maximum throughput (64 connections, MAX_DURATION s): nginx's CPU time per
#      request (all workers, utime+stime from /proc) and the mock's;
#   2. fixed rate 2,000 req/s (open loop, latency correction), alternating
#      direct and through nginx twice: p50/p99 and the added latency.
# Compare with bench/overhead.sh's figures from the same machine and hour.
#
# Usage:   bench/nginx-reference.sh           (needs nginx on PATH: apt-get install nginx-light)
# Knobs:   DURATION=8 (s per fixed-rate run)  MAX_DURATION=8   SIGNALBOX_BIN=path
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DURATION=${DURATION:-8}
MAX_DURATION=${MAX_DURATION:-8}
OHA_ROOT=${OHA_ROOT:-$HOME/.cache/oha-root}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
BIN=${SIGNALBOX_BIN:-$TARGET_DIR/release/signalbox}
BODY='{"model":"chat","messages":[{"role":"user","content":"hello benchmark"}]}'

die() {
    echo "nginx-reference: $*" >&2
    exit 1
}
command -v nginx >/dev/null || die "nginx is not installed (apt-get install -y nginx-light)"
[[ -x $BIN ]] || die "no signalbox binary at $BIN (cargo build --release -p signalbox)"
OHA=$(command -v oha || echo "$OHA_ROOT/bin/oha")
[[ -x $OHA ]] || die "oha not found (bench/overhead.sh installs it into $OHA_ROOT)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-nginx.XXXXXX")
MOCK_PID=""
cleanup() {
    [[ -f $WORK/nginx.pid ]] && kill -TERM "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [[ -n $MOCK_PID ]] && kill -TERM "$MOCK_PID" 2>/dev/null || true
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
MOCK_PORT=$(free_port)
NGINX_PORT=$(free_port)

"$BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" --name nginx-ref >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
cat >"$WORK/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/error.log"
sleep 1

DIRECT=http://127.0.0.1:$MOCK_PORT/v1/chat/completions
PROXY=http://127.0.0.1:$NGINX_PORT/v1/chat/completions
oha_json() { timeout 120 "$OHA" --no-tui --output-format json -m POST -H 'content-type: application/json' -d "$BODY" "$@"; }
workers_cpu() {
    local total=0 pid
    for pid in $(pgrep -P "$(cat "$WORK/nginx.pid")"); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
mock_cpu() { awk '{print $14 + $15}' "/proc/$MOCK_PID/stat"; }

oha_json -n 3000 -c 16 "$PROXY" >/dev/null
oha_json -n 3000 -c 16 "$DIRECT" >/dev/null

n0=$(workers_cpu) m0=$(mock_cpu)
oha_json -z "${MAX_DURATION}s" -c 64 "$PROXY" >"$WORK/max.json"
n1=$(workers_cpu) m1=$(mock_cpu)
for i in 1 2; do
    oha_json -z "${DURATION}s" -c 50 -q 2000 --latency-correction "$DIRECT" >"$WORK/direct$i.json"
    oha_json -z "${DURATION}s" -c 50 -q 2000 --latency-correction "$PROXY" >"$WORK/proxy$i.json"
done

python3 - "$WORK" "$n0" "$n1" "$m0" "$m1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
work, n0, n1, m0, m1, tck = sys.argv[1], *map(float, sys.argv[2:])
def load(name): return json.load(open(f"{work}/{name}.json"))
def ok(d): return sum(v for k, v in d["statusCodeDistribution"].items() if k.startswith("2"))
def ms(d, p): return d["latencyPercentiles"][p] * 1000
mx = load("max")
n = ok(mx)
print("nginx reverse-proxy hop (2 workers, upstream keep-alive) in front of the mock")
print(f"max throughput: {mx['summary']['requestsPerSec']:.0f} req/s, nginx CPU/req "
      f"{(n1 - n0) / tck / n * 1e6:.1f} us, mock CPU/req {(m1 - m0) / tck / n * 1e6:.1f} us")
for i in (1, 2):
    d, p = load(f"direct{i}"), load(f"proxy{i}")
    print(f"2000 req/s #{i}: direct p50 {ms(d, 'p50'):.3f} p99 {ms(d, 'p99'):.3f} ms | nginx p50 "
          f"{ms(p, 'p50'):.3f} p99 {ms(p, 'p99'):.3f} ms | added p50 +{ms(p, 'p50') - ms(d, 'p50'):.3f} "
          f"p99 +{ms(p, 'p99') - ms(d, 'p99'):.3f} ms")
PY
