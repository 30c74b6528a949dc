#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 30), one after
# another. Exits non-zero if any target crashed, hung or ran out of memory;
# the reproducer is in fuzz/artifacts/<target>/.
#
#   fuzz/run-all.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the
# nightly-only sanitizer flags are unlocked with RUSTC_BOOTSTRAP=1; set
# FUZZ_SANITIZER=none to build without AddressSanitizer.
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"

# The fuzz build has its own target dir (.cargo/config.toml); an inherited
# CARGO_TARGET_DIR would mix instrumented artifacts into the workspace cache.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/root/.cache/signalbox/target-fuzz}"
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build --sanitizer "$sanitizer"

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "=== $t (${seconds}s) ==="
    # corpus/<t> receives new inputs; seeds/<t> is read-only input.
    if ! cargo fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${seconds}s without a crash"
