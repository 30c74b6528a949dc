#!/usr/bin/env bash
# End-to-end test of the web dashboard (GET /admin/dashboard) in headless Chromium: starts
# two mock upstreams and the real gateway (browser-tests/dashboard.yaml) on free loopback
# ports, then drives Debian's chromium with playwright-core (browser-tests/dashboard.mjs).
#
#   bash browser-tests/run.sh [PATH_TO_SIGNALBOX_BINARY]
#
# Binary default: $CARGO_TARGET_DIR/debug/signalbox, else target/debug/signalbox.
# Environment:
#   CHROMIUM              the browser (default /usr/bin/chromium; `apt-get install chromium`)
#   BROWSER_TEST_TIMEOUT  seconds allowed for the test script (default 120)
#   BROWSER_TEST_OUTPUT   where screenshots go (default browser-tests/output)
# Only loopback is used at test time; the network is needed for `npm ci` only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

if [[ $# -ge 1 ]]; then
    bin=$1
elif [[ -n ${CARGO_TARGET_DIR:-} ]]; then
    bin=$CARGO_TARGET_DIR/debug/signalbox
else
    bin=$root/target/debug/signalbox
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
test_timeout=${BROWSER_TEST_TIMEOUT:-120}

die() {
    echo "browser-tests: $*" >&2
    exit 2
}
[[ -x $bin ]] || die "no signalbox binary at $bin (build it with: cargo build -p signalbox)"
[[ -x $chromium ]] || die "no chromium at $chromium (apt-get install -y chromium)"
command -v node >/dev/null || die "node is required"
command -v npm >/dev/null || die "npm is required"
command -v curl >/dev/null || die "curl is required"

# playwright-core only (no browser download): exactly what package-lock.json says.
(cd "$here" && timeout 600 npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)

export NO_COLOR=1
export RUST_LOG=${RUST_LOG:-info}
E2E_NAME=browser-tests E2E_TAIL=100
# shellcheck source=scripts/e2e-procs.sh
source "$root/scripts/e2e-procs.sh"

read -r p_primary p_secondary p_gateway < <(free_ports 3)

"$bin" mock-provider --format openai --listen "127.0.0.1:$p_primary" --name primary \
    >"$work/primary.log" 2>&1 &
pids+=($!) names+=(primary)
"$bin" mock-provider --format openai --listen "127.0.0.1:$p_secondary" --name secondary \
    >"$work/secondary.log" 2>&1 &
pids+=($!) names+=(secondary)

viewer_token=viewer-$RANDOM$RANDOM$RANDOM
oncall_token=oncall-$RANDOM$RANDOM$RANDOM
PRIMARY_URL=http://127.0.0.1:$p_primary/v1 \
    SECONDARY_URL=http://127.0.0.1:$p_secondary/v1 \
    VIEWER_TOKEN=$viewer_token \
    ONCALL_TOKEN=$oncall_token \
    DECISION_DB=$work/decisions.db \
    "$bin" serve --config "$here/dashboard.yaml" --listen "127.0.0.1:$p_gateway" --no-watch \
    >"$work/gateway.log" 2>&1 &
pids+=($!) names+=(gateway)

url=http://127.0.0.1:$p_gateway
wait_ready "$url" "$p_primary" "$p_secondary"
echo "browser-tests: gateway ready at $url"

SIGNALBOX_URL=$url \
    SIGNALBOX_BIN=$bin \
    PRIMARY_MOCK_URL=http://127.0.0.1:$p_primary \
    VIEWER_TOKEN=$viewer_token \
    ONCALL_TOKEN=$oncall_token \
    CHROMIUM=$chromium \
    BROWSER_TEST_OUTPUT=${BROWSER_TEST_OUTPUT:-$here/output} \
    timeout "$test_timeout" node "$here/dashboard.mjs"

ok=1
echo "browser-tests: dashboard checks passed"
