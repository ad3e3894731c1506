#!/usr/bin/env bash
# llama.cpp's side (needs gcc, python3 with pip, and PyPI):
# - regenerates the llama.cpp reference vectors and fails if any byte changed;
# - formats, lints, builds and runs the sanity check of the side-by-side benchmark package,
#   and checks its binaries with .ci/inlined.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

src=$(benches/llama/fetch.sh)

printf '\n=== llama.cpp reference vectors reproduce\n'
LLAMA_CPP_DIR=$src tests/vectors/llama/generate.sh
git diff --exit-code --stat -- tests/vectors/llama

printf '\n=== benches/llama: fmt, clippy, sanity run\n'
cd benches/llama
cargo fmt --check
LLAMA_CPP_DIR=$src cargo clippy --release --all-targets -- -D warnings
LLAMA_CPP_DIR=$src cargo run --release --bin sanity
LLAMA_CPP_DIR=$src cargo build --release --bins
bash ../../.ci/inlined.sh target/release/{dot,encode,encode_weighted}
