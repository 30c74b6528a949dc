# scripts/e2e-procs.sh: what the end-to-end test scripts (sdk-tests/run.sh,
# browser-tests/run.sh) share, sourced, not run: a work directory, the
# processes they start (stopped on exit: 5 s of grace in all, then SIGKILL)
# with their logs shown when the run failed, and free loopback ports.
#
# Before sourcing set E2E_NAME (message prefix and work dir name) and
# E2E_TAIL (log lines shown on failure). Afterwards: $work; append each
# started pid to `pids` and its name to `names` (its log is $work/NAME.log);
# set ok=1 once every check passed.

work=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-$E2E_NAME.XXXXXX")
pids=()
names=()
ok=0
cleanup() {
    local status=$? pid name tries=50
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((tries-- > 0)); do
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $ok -ne 1 ]]; then
        for name in "${names[@]}"; do
            if [[ -s $work/$name.log ]]; then
                echo "----- $name log (last $E2E_TAIL lines) -----" >&2
                tail -n "$E2E_TAIL" "$work/$name.log" >&2
            fi
        done
        echo "$E2E_NAME: FAILED" >&2
        [[ $status -eq 0 ]] && status=1
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints N free TCP ports on 127.0.0.1 (bound together, so distinct).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
}

# Waits (≤ 20 s) until the gateway at URL answers /readyz with 200 and each
# of PORTS accepts connections; stops the run if a started process exits.
wait_ready() {
    local url=$1 i port deadline=$((SECONDS + 20))
    shift
    while true; do
        local ready=1
        curl -fsS -o /dev/null --max-time 2 "$url/readyz" 2>/dev/null || ready=0
        for port in "$@"; do
            (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null || ready=0
        done
        ((ready)) && return 0
        for i in "${!pids[@]}"; do
            if ! kill -0 "${pids[$i]}" 2>/dev/null; then
                echo "$E2E_NAME: the ${names[$i]} process exited early (log below)" >&2
                exit 2
            fi
        done
        ((SECONDS < deadline)) || { echo "$E2E_NAME: gateway not ready at $url/readyz within 20 s" >&2; exit 2; }
        sleep 0.2
    done
}
