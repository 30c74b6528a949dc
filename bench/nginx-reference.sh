#!/usr/bin/env bash
# bench/nginx-reference.sh: the yardstick for bench/overhead.sh — what a plain
# nginx reverse-proxy hop costs on this machine, measured the same way.
#
# Starts one `signalbox mock-provider` and nginx (NGINX_WORKERS worker processes,
# upstream keep-alive, access log off) proxying to it, on 127.0.0.1 only, then:
#   1. maximum throughput (64 connections, MAX_DURATION s): nginx's CPU time per
#      request (all workers, utime+stime from /proc) and the mock's;
#   2. fixed rate 2,000 req/s (open loop, latency correction), alternating
#      direct and through nginx twice: p50/p99 and the added latency.
# Compare with bench/overhead.sh's figures from the same machine and hour.
#
# Usage:   bench/nginx-reference.sh           (needs nginx on PATH: apt-get install nginx-light)
# Knobs:   DURATION=8 (s per fixed-rate run)  MAX_DURATION=8   SIGNALBOX_BIN=path
#          NGINX_WORKERS=1 (the issue's yardstick; 2 uses both cores)
#          NGINX_JSON=path (also write the figures as JSON, for bench/compare.sh)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DURATION=${DURATION:-8}
MAX_DURATION=${MAX_DURATION:-8}
NGINX_WORKERS=${NGINX_WORKERS:-1}
NGINX_JSON=${NGINX_JSON:-}
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
worker_processes $NGINX_WORKERS;
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
fixed_ticks=0
for i in 1 2; do
    oha_json -z "${DURATION}s" -c 50 -q 2000 --latency-correction "$DIRECT" >"$WORK/direct$i.json"
    f0=$(workers_cpu)
    oha_json -z "${DURATION}s" -c 50 -q 2000 --latency-correction "$PROXY" >"$WORK/proxy$i.json"
    f1=$(workers_cpu)
    fixed_ticks=$((fixed_ticks + f1 - f0))
done

python3 - "$WORK" "$n0" "$n1" "$m0" "$m1" "$(getconf CLK_TCK)" "$fixed_ticks" "$NGINX_WORKERS" "$NGINX_JSON" <<'PY'
import json, sys
work, json_out = sys.argv[1], sys.argv[9]
n0, n1, m0, m1, tck, fixed_ticks, workers = map(float, sys.argv[2:9])
def load(name): return json.load(open(f"{work}/{name}.json"))
def ok(d): return sum(v for k, v in d["statusCodeDistribution"].items() if k.startswith("2"))
def ms(d, p): return d["latencyPercentiles"][p] * 1000
mx = load("max")
n = ok(mx)
print(f"nginx reverse-proxy hop ({workers:.0f} worker(s), upstream keep-alive) in front of the mock")
print(f"max throughput: {mx['summary']['requestsPerSec']:.0f} req/s, nginx CPU/req "
      f"{(n1 - n0) / tck / n * 1e6:.1f} us, mock CPU/req {(m1 - m0) / tck / n * 1e6:.1f} us")
for i in (1, 2):
    d, p = load(f"direct{i}"), load(f"proxy{i}")
    print(f"2000 req/s #{i}: direct p50 {ms(d, 'p50'):.3f} p99 {ms(d, 'p99'):.3f} ms | nginx p50 "
          f"{ms(p, 'p50'):.3f} p99 {ms(p, 'p99'):.3f} ms | added p50 +{ms(p, 'p50') - ms(d, 'p50'):.3f} "
          f"p99 +{ms(p, 'p99') - ms(d, 'p99'):.3f} ms")
fixed_n = sum(ok(load(f"proxy{i}")) for i in (1, 2))
cpu_2000 = fixed_ticks / tck / fixed_n * 1e6 if fixed_n else float("nan")
print(f"2000 req/s: nginx CPU/req {cpu_2000:.1f} us")
if json_out:
    runs = [(load(f"direct{i}"), load(f"proxy{i}")) for i in (1, 2)]
    added = lambda p: sum(ms(x, p) - ms(d, p) for d, x in runs) / len(runs)
    json.dump({
        "workers": workers,
        "max_ok_per_sec": mx["summary"]["requestsPerSec"],
        "cpu_us_per_req_max": (n1 - n0) / tck / n * 1e6,
        "cpu_us_per_req_2000": cpu_2000,
        "added_p50_ms_2000": added("p50"),
        "added_p99_ms_2000": added("p99"),
    }, open(json_out, "w"), indent=1)
PY
