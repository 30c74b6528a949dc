# bench/lib.sh: what the smaller benchmark scripts share (sourced, not run):
# logging, a work dir whose processes are stopped on exit, the signalbox
# binary and oha, free loopback ports and readiness waits.
#
# Before sourcing, set BENCH_NAME (log prefix and work dir name), REPO and
# SKIP_BUILD; honours SIGNALBOX_BIN, CARGO_TARGET_DIR and OHA_ROOT as
# bench/overhead.sh does. Afterwards BIN, OHA and WORK are set, and every pid
# appended to PIDS is stopped when the script exits.

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Each named variable must hold a positive integer.
require_positive() {
    local knob
    for knob in "$@"; do
        [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer"
    done
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-$BENCH_NAME.XXXXXX")
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ((status == 0)) || for f in "$WORK"/*.log; do [[ -s $f ]] && tail -n 20 "$f" >&2; done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

if [[ -n ${SIGNALBOX_BIN:-} ]]; then
    BIN=$SIGNALBOX_BIN
else
    TARGET_DIR=${CARGO_TARGET_DIR:-target}
    [[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
    BIN=$TARGET_DIR/release/signalbox
    [[ ${SKIP_BUILD:-0} == 1 ]] || (cd "$REPO" && cargo build --release -p signalbox)
fi
[[ -x $BIN ]] || die "no signalbox binary at $BIN"
OHA_ROOT=${OHA_ROOT:-$HOME/.cache/oha-root}
if command -v oha >/dev/null; then OHA=$(command -v oha)
elif [[ -x $OHA_ROOT/bin/oha ]]; then OHA=$OHA_ROOT/bin/oha
else cargo install oha --locked --root "$OHA_ROOT"; OHA=$OHA_ROOT/bin/oha; fi

# Prints N free TCP ports on 127.0.0.1 (bound together, so distinct).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Waits until URL answers 2xx (up to 15 s).
wait_ready() {
    for _ in $(seq 150); do
        curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    die "not ready: $1"
}
