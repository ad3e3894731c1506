#!/usr/bin/env bash
# The whole test suite, SIMD kernels included, under AddressSanitizer (nightly), in each feature
# set. `--target` keeps build scripts and proc-macros uninstrumented; a separate target directory
# keeps the instrumented artifacts away from the ordinary builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export Q4K_QUICKCHECK_TESTS="${Q4K_QUICKCHECK_TESTS:-200}"
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
# The test profile at opt-level 1, its debug assertions and overflow checks kept: unoptimised
# SIMD code under the sanitizer ran the three suites in 780 s on a 3 GHz Zen 3, at opt-level 1
# in 289 s. A 32-byte load past a buffer's end is still reported at this level.
export CARGO_PROFILE_DEV_OPT_LEVEL="${CARGO_PROFILE_DEV_OPT_LEVEL:-1}"
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS

for features in "" "--no-default-features" "--all-features"; do
    printf '\n=== asan: cargo test %s\n' "${features:-(default features)}"
    # shellcheck disable=SC2086
    cargo +nightly test --target "$host" $features -- --show-output 2>&1 | tee -a "$log"
done

# The kernels each suite ran, so that a run that fell back to scalar shows.
printf '\n=== asan: kernels exercised\n'
grep -E ': kernels \["' "$log" | sed 's/^.*: kernels/kernels/' | sort | uniq -c
printf 'asan: passed in %ss\n' "$((SECONDS - started))"
