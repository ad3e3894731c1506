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
printf '\n=== miri: cargo miri test (default features)\n'
cargo +nightly miri test
printf '\n=== miri: cargo miri test --no-default-features --lib --test api\n'
cargo +nightly miri test --no-default-features --lib --test api
printf 'miri: passed in %ss\n' "$((SECONDS - started))"
