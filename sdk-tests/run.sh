#!/usr/bin/env bash
# End-to-end checks of the gateway with the official client SDKs (Python openai + anthropic,
# Node openai + @anthropic-ai/sdk) and the Vercel AI SDK (`ai` with its default OpenAI provider,
# which calls /v1/responses, and its Anthropic provider), against two local mock upstreams
# (Anthropic and OpenAI wire formats).
#
#   bash sdk-tests/run.sh [PATH_TO_SIGNALBOX_BINARY]
#
# Binary default: $CARGO_TARGET_DIR/debug/signalbox, else target/debug/signalbox.
# Environment:
#   SDK_CONFIG        gateway config (default examples/translation.yaml)
#   SDK_CACHE         where the Python venv lives (default ~/.cache/signalbox-sdk)
#   SDK_TEST_TIMEOUT  seconds allowed per test script (default 120; installs get 600 each)
# Only loopback is used at test time; the network is needed for the package installs only.
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
config=${SDK_CONFIG:-$root/examples/translation.yaml}
cache=${SDK_CACHE:-$HOME/.cache/signalbox-sdk}
test_timeout=${SDK_TEST_TIMEOUT:-120}

die() {
    echo "sdk-tests: $*" >&2
    exit 2
}
[[ -x $bin ]] || die "no signalbox binary at $bin (build it with: cargo build -p signalbox)"
[[ -f $config ]] || die "no gateway config at $config (set SDK_CONFIG)"
command -v python3 >/dev/null || die "python3 is required"
command -v node >/dev/null || die "node is required"
command -v npm >/dev/null || die "npm is required"
command -v curl >/dev/null || die "curl is required"

# --- Python SDKs: a venv reused across runs, reinstalled only when requirements.txt changes.
venv=$cache/venv
requirements=$here/python/requirements.txt
if [[ ! -x $venv/bin/python ]]; then
    echo "sdk-tests: creating Python venv in $venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
fi
stamp=$venv/.signalbox-requirements.sha256
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
    echo "sdk-tests: installing $requirements"
    timeout 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" >"$stamp"
fi

# --- Node SDK: exactly what package-lock.json says.
echo "sdk-tests: npm ci in sdk-tests/node"
(cd "$here/node" && timeout 600 npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)

# --- Processes: two mock upstreams and the gateway, on free loopback ports.
# Plain-text logs (shown on failure), with the gateway's per-request debug lines.
export NO_COLOR=1
export RUST_LOG=${RUST_LOG:-info,signalbox_gateway=debug,signalbox_adapters=debug,signalbox_providers=debug}
E2E_NAME=sdk-tests E2E_TAIL=200
# shellcheck source=scripts/e2e-procs.sh
source "$root/scripts/e2e-procs.sh"

read -r p_claude p_gpt p_gateway < <(free_ports 3)

"$bin" mock-provider --format anthropic --listen "127.0.0.1:$p_claude" --name claude-mock \
    >"$work/claude-mock.log" 2>&1 &
pids+=($!) names+=(claude-mock)
"$bin" mock-provider --format openai --listen "127.0.0.1:$p_gpt" --name gpt-mock \
    >"$work/gpt-mock.log" 2>&1 &
pids+=($!) names+=(gpt-mock)
ANTHROPIC_URL=http://127.0.0.1:$p_claude \
    OPENAI_URL=http://127.0.0.1:$p_gpt/v1 \
    DECISION_LOG=false \
    DECISION_DB=$work/decisions.db \
    "$bin" serve --config "$config" --listen "127.0.0.1:$p_gateway" --no-watch \
    >"$work/gateway.log" 2>&1 &
pids+=($!) names+=(gateway)

url=http://127.0.0.1:$p_gateway
# Ready when the gateway answers /readyz with 200 and both mocks accept connections (≤ 20 s).
wait_ready "$url" "$p_claude" "$p_gpt"
echo "sdk-tests: gateway ready at $url (mocks: anthropic :$p_claude, openai :$p_gpt)"

export SIGNALBOX_URL=$url
export CLAUDE_MOCK_URL=http://127.0.0.1:$p_claude
export GPT_MOCK_URL=http://127.0.0.1:$p_gpt
echo "sdk-tests: Python SDKs"
timeout "$test_timeout" "$venv/bin/python" "$here/python/test_sdks.py"
echo "sdk-tests: Node SDKs"
timeout "$test_timeout" node "$here/node/test_sdks.mjs"
timeout "$test_timeout" node "$here/node/test_other_sdks.mjs"

ok=1
echo "sdk-tests: all checks passed"
