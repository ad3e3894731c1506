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

for features in "--no-default-features" ""; do
    printf '\n=== miri: cargo miri test %s\n' "${features:-(default features)}"
    # shellcheck disable=SC2086
    cargo +nightly miri test $features
done
printf 'miri: passed in %ss\n' "$((SECONDS - started))"
