#!/usr/bin/env bash
# A short run of every fuzz target from its committed seeds (nightly, cargo-fuzz, AddressSanitizer
# and debug assertions): fails on any crash, leak, timeout or failed assertion. Seconds per
# target: Q4K_FUZZ_SECONDS (10 by default).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export CARGO_TERM_COLOR=never
seconds="${Q4K_FUZZ_SECONDS:-10}"
started=$SECONDS

cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install --locked cargo-fuzz
cargo +nightly fuzz build --debug-assertions

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
for target in $(cargo +nightly fuzz list); do
    printf '\n=== fuzz %s for %ss\n' "$target" "$seconds"
    mkdir -p "$corpus/$target"
    log="$corpus/$target.log"
    # New inputs go to the scratch corpus; the seeds stay as committed.
    if ! cargo +nightly fuzz run --debug-assertions "$target" "$corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=30 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 80 "$log"
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target"
        exit 1
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$log" || true
done
printf '\nfuzz-smoke: passed in %ss\n' "$((SECONDS - started))"
