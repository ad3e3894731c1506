#!/usr/bin/env bash
# Everything Miri can execute (scalar kernel, API, errors, block view, chunked decoder, f16) under
# strict provenance, with and without `std`. SIMD tests are ignored under cfg(miri), with the
# reason in their attribute; property tests run few cases.
#
# Deterministic floats: Miri otherwise adds random error to operations whose precision Rust
# leaves unspecified (`powi`, which the tests use to build expected values) and picks random NaN
# payloads; the crate's own arithmetic (`+`, `-`, `*` and integer bit work) is exact either way.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-deterministic-floats ${MIRIFLAGS:-}"
export Q4K_QUICKCHECK_TESTS="${Q4K_QUICKCHECK_TESTS:-10}"
started=$SECONDS

# Everything with the default features; without `std` only what changes there (the kernel
# choice and the library's own tests), since the integration tests run the same scalar code.
# Miri runs on one thread, so the work goes in two halves, one per core, each in its own target
# directory (cargo holds a directory's lock while its tests run), and each half's output is
# printed when both are done. The halves, by the test times Miri reported on a 3 GHz Zen 3
# (its own clock, which counts the work interpreted): the library's and the API's tests with and
# without `std` (about 400 s) and the `f32` dot products' (155 s); the other integration tests
# and the doc tests (about 470 s).
first_tests=(--test api --test dot_f32)
integration=()
for file in tests/*.rs; do
    name=$(basename "$file" .rs)
    case "$name" in
        api | dot_f32) ;;
        *) integration+=(--test "$name") ;;
    esac
done
first=$(mktemp)
second=$(mktemp)
trap 'rm -f "$first" "$second"' EXIT
# Each half's steps are chained with `&&`: `set -e` does not reach into a list whose status is
# tested.
{
    printf '\n=== miri: cargo miri test --lib %s (default features)\n' "${first_tests[*]}" &&
        cargo +nightly miri test --lib "${first_tests[@]}" &&
        printf '\n=== miri: cargo miri test --no-default-features --lib --test api\n' &&
        cargo +nightly miri test --no-default-features --lib --test api
} >"$first" 2>&1 &
pid=$!
status=0
{
    printf '\n=== miri: cargo miri test, the other integration tests\n' &&
        CARGO_TARGET_DIR=target/miri-integration cargo +nightly miri test "${integration[@]}" &&
        printf '\n=== miri: cargo miri test --doc\n' &&
        CARGO_TARGET_DIR=target/miri-integration cargo +nightly miri test --doc
} >"$second" 2>&1 || status=$?
wait "$pid" || status=$?
cat "$first" "$second"
if [ "$status" -ne 0 ]; then
    echo "miri: failed"
    exit "$status"
fi
printf 'miri: passed in %ss\n' "$((SECONDS - started))"
