#!/usr/bin/env bash
# bench/growth.sh: how the gateway's cost grows with the work, next to a
# plain nginx hop (1 worker, keep-alive) in front of the same mock, in one
# run (issue 18, target 3):
#   request bodies of 1 KB, 10 KB, 100 KB and 1 MB   -> CPU per request
#   streams of 10, 100 and 1,000 chunks               -> CPU per chunk
#   100, 1,000 and 5,000 concurrent slow streams       -> peak RSS
# Targets: CPU/req at 100 KB ≤ 3× nginx's; ≤ 2 µs of gateway CPU per streamed
# chunk; RSS ≤ 256 MiB at 5,000 concurrent slow streams.
#
# Usage:  bench/growth.sh             (builds the release binary first)
# Knobs:  SECS=5 (per CPU run)  SLOW_CHUNKS=10  SLOW_DELAY_MS=500  STREAMS="100 1000 5000"  SKIP_BUILD=1
#         SIGNALBOX_BIN=path  GATEWAY_CONFIG=path (default examples/failover.yaml)
set -euo pipefail
BENCH_NAME=growth
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
SECS=${SECS:-5}
SLOW_CHUNKS=${SLOW_CHUNKS:-10}
SLOW_DELAY_MS=${SLOW_DELAY_MS:-500}
STREAMS=${STREAMS:-100 1000 5000}
require_positive SECS SLOW_CHUNKS SLOW_DELAY_MS
command -v nginx >/dev/null || die "nginx is not installed (apt-get install -y nginx-light)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

read -r MOCK_PORT NGINX_PORT GW_PORT < <(free_ports 3)
"$BIN" mock-provider --listen "127.0.0.1:$MOCK_PORT" --name growth >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
MOCK=http://127.0.0.1:$MOCK_PORT
wait_ready "$MOCK/v1/models"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
worker_rlimit_nofile 65536;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_max_body_size 8m;
  client_body_buffer_size 2m;
  proxy_buffering off;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"
trap 'kill -TERM "$(cat "$WORK/nginx.pid" 2>/dev/null)" 2>/dev/null || true; cleanup' EXIT
(cd "$WORK" && PRIMARY_URL=$MOCK/v1 SECONDARY_URL=$MOCK/v1 DECISION_DB="$WORK/decisions.db" CONTEXT_WINDOW=2000000 \
    exec "$BIN" serve --config "${GATEWAY_CONFIG:-$REPO/examples/failover.yaml}" \
    --listen "127.0.0.1:$GW_PORT" >"$WORK/gateway.log" 2>&1) &
GW_PID=$!
PIDS+=("$GW_PID")
wait_ready "http://127.0.0.1:$GW_PORT/readyz"
sleep 1
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx.pid")" | head -n 1)

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
pid_of() { [[ $1 == nginx ]] && echo "$NGINX_WORKER" || echo "$GW_PID"; }
url_of() { [[ $1 == nginx ]] && echo "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" ||
    echo "http://127.0.0.1:$GW_PORT/v1/chat/completions"; }
faults() { curl -fsS -o /dev/null -X POST -H 'content-type: application/json' -d "$1" "$MOCK/_mock/faults"; }
TCK=$(getconf CLK_TCK)

# CPU µs per 2xx response of TARGET for body file FILE (16 connections, SECS s).
cpu_run() {
    local target=$1 file=$2 pid t0 t1 ok
    pid=$(pid_of "$target")
    t0=$(ticks "$pid")
    "$OHA" --no-tui --output-format json -m POST -H 'content-type: application/json' -D "$file" \
        -c 16 -z "${SECS}s" "$(url_of "$target")" >"$WORK/run.json"
    t1=$(ticks "$pid")
    ok=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(v for k,v in d["statusCodeDistribution"].items() if k.startswith("2")))' "$WORK/run.json")
    ((ok > 0)) || die "$target: no 2xx answer for $file"
    python3 -c "print(f'{($t1 - $t0) / $TCK / $ok * 1e6:.1f}')"
}

body() { # body FILE BYTES STREAM
    python3 - "$@" <<'PY'
import json, sys
path, size, stream = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
text = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]
json.dump({"model": "chat", "stream": stream, "messages": [{"role": "user", "content": text}]}, open(path, "w"))
PY
}

OUT=$WORK/report.txt
{
    echo "Cost growth with work (bench/growth.sh), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "gateway: ${GATEWAY_CONFIG:-examples/failover.yaml}, decision log on; nginx: 1 worker, keep-alive; ${SECS}s per run, 16 connections"
    echo
    echo "request body    nginx us/req   gateway us/req   ratio"
} >"$OUT"
faults '{}'
for size in 1024 10240 102400 1048576; do
    body "$WORK/body.json" "$size" 0
    n=$(cpu_run nginx "$WORK/body.json")
    g=$(cpu_run gateway "$WORK/body.json")
    log "body $size: nginx $n us, gateway $g us"
    python3 -c "print(f'{$size // 1024:>6} KB      {$n:>12} {$g:>16} {$g / $n:>7.2f}x')" >>"$OUT"
done
{ echo; echo "streamed answer   nginx us/req   gateway us/req   gateway us/chunk"; } >>"$OUT"
# Long enough that its echo splits into 1,000 chunks.
body "$WORK/stream.json" 2048 1
for chunks in 10 100 1000; do
    faults "{\"stream_chunks\": $chunks}"
    n=$(cpu_run nginx "$WORK/stream.json")
    g=$(cpu_run gateway "$WORK/stream.json")
    log "stream $chunks chunks: nginx $n us, gateway $g us"
    python3 -c "print(f'{$chunks:>6} chunks   {$n:>12} {$g:>16} {$g / $chunks:>18.2f}')" >>"$OUT"
done
{ echo; echo "concurrent slow streams ($SLOW_CHUNKS chunks, ${SLOW_DELAY_MS} ms apart)   nginx peak RSS MiB   gateway peak RSS MiB   gateway 2xx"; } >>"$OUT"
faults "{\"stream_chunks\": $SLOW_CHUNKS, \"chunk_delay_ms\": $SLOW_DELAY_MS}"
for n in $STREAMS; do
    for target in nginx gateway; do
        pid=$(pid_of "$target")
        "$OHA" --no-tui --output-format json -m POST -H 'content-type: application/json' \
            -D "$WORK/stream.json" -c "$n" -n "$n" -t 60s "$(url_of "$target")" >"$WORK/slow-$target.json" &
        load=$!
        peak=0
        while kill -0 "$load" 2>/dev/null; do
            r=$(rss_kb "$pid")
            ((r > peak)) && peak=$r
            sleep 0.1
        done
        wait "$load" || die "oha failed ($target, $n streams)"
        eval "peak_$target=$peak"
    done
    ok=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(v for k,v in d["statusCodeDistribution"].items() if k.startswith("2")))' "$WORK/slow-gateway.json")
    log "$n slow streams: nginx $peak_nginx kB, gateway $peak_gateway kB, $ok ok"
    # shellcheck disable=SC2154
    python3 -c "print(f'{$n:>6} streams{\"\":>48} {$peak_nginx / 1024:>10.1f} {$peak_gateway / 1024:>22.1f} {$ok:>12}')" >>"$OUT"
done
mkdir -p "$REPO/bench/results"
STAMP=$(date +%Y-%m-%d-%H%M%S)
cp "$OUT" "$REPO/bench/results/growth-$STAMP.txt"
cat "$OUT"
log "written: bench/results/growth-$STAMP.txt"
