#!/usr/bin/env bash
# Code size of q4k on a Cortex-M4F: `.text` of each probe in examples/ minus the baseline probe
# (the same program without decoding), release builds with LTO, at opt-level "s" and 3.
# The q4k symbols that survive inlining are listed too (llvm-nm --size-sort).
#
# `size.sh --check` builds at opt-level "s" only and fails if a probe grows past its budget
# below (about 20% over its size when the budget was set), so that a change which drags unused
# code into a small program (as a runtime format dispatch once did: ChunkedDecoder 1.8 KB ->
# 4.3 KB) is seen.
#
# Needs llvm-size and llvm-nm: Debian's `llvm` package, or `rustup component add llvm-tools`.
set -euo pipefail
cd "$(dirname "$0")"

check=false
levels=(s 3)
if [ "${1:-}" = "--check" ]; then
    check=true
    levels=(s)
fi

# Budgets in bytes over the baseline at opt-level "s".
declare -A budget=(
    [size_block]=1700 [size_decode]=1050 [size_chunked]=2150 [size_quantize_q8k]=1750
    [size_matvec_q8k]=1350 [size_matvec_f32]=1750 [size_encode]=4050
    [size_encode_weighted]=4200 [size_gguf]=7800
)

tool() {
    local found
    found=$(command -v "$1" || true)
    if [ -z "$found" ]; then
        found="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/$1"
    fi
    [ -x "$found" ] || { echo "size.sh: $1 not found" >&2; exit 1; }
    echo "$found"
}
size=$(tool llvm-size)
nm=$(tool llvm-nm)
target=thumbv7em-none-eabihf
probes=(size_baseline size_block size_decode size_chunked size_quantize_q8k size_matvec_q8k
    size_matvec_f32 size_encode size_encode_weighted size_gguf)

text() { "$size" -A "$1" | awk '$1 == ".text" { print $2 }'; }

over=0
for opt in "${levels[@]}"; do
    dir="target/size-opt-$opt"
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt cargo build --quiet --release --examples \
        --target "$target" --target-dir "$dir"
    base=$(text "$dir/$target/release/examples/size_baseline")
    echo "opt-level $opt: baseline .text $base bytes"
    for probe in "${probes[@]:1}"; do
        elf="$dir/$target/release/examples/$probe"
        bytes=$(text "$elf")
        echo "  $probe: .text $bytes bytes, +$((bytes - base)) over the baseline"
        if $check && [ $((bytes - base)) -gt "${budget[$probe]}" ]; then
            echo "size.sh: $probe adds $((bytes - base)) bytes, over its budget of ${budget[$probe]}" >&2
            over=1
        fi
    done
    echo "  q4k symbols left after inlining in size_chunked (bytes, name):"
    "$nm" --print-size --size-sort --demangle --radix=d "$dir/$target/release/examples/size_chunked" |
        awk '$3 ~ /^[tT]$/ && /q4k::/ { printf "    %6d %s\n", $2, substr($0, index($0, $4)) }'
done
if [ "$over" -ne 0 ]; then
    exit 1
fi
