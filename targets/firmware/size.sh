#!/usr/bin/env bash
# Code size of q4k on a Cortex-M4F: `.text` of each probe in examples/ minus the baseline probe
# (the same program without decoding), release builds with LTO, at opt-level "s" and 3.
# The q4k symbols that survive inlining are listed too (llvm-nm --size-sort).
#
# Needs llvm-size and llvm-nm: Debian's `llvm` package, or `rustup component add llvm-tools`.
set -euo pipefail
cd "$(dirname "$0")"

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
probes=(size_baseline size_block size_decode size_chunked)

text() { "$size" -A "$1" | awk '$1 == ".text" { print $2 }'; }

for opt in s 3; do
    dir="target/size-opt-$opt"
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt cargo build --quiet --release --examples \
        --target "$target" --target-dir "$dir"
    base=$(text "$dir/$target/release/examples/size_baseline")
    echo "opt-level $opt: baseline .text $base bytes"
    for probe in "${probes[@]:1}"; do
        elf="$dir/$target/release/examples/$probe"
        bytes=$(text "$elf")
        echo "  $probe: .text $bytes bytes, +$((bytes - base)) over the baseline"
    done
    echo "  q4k symbols left after inlining in size_chunked (bytes, name):"
    "$nm" --print-size --size-sort --demangle --radix=d "$dir/$target/release/examples/size_chunked" |
        awk '$3 ~ /^[tT]$/ && /q4k::/ { printf "    %6d %s\n", $2, substr($0, index($0, $4)) }'
done
