#!/usr/bin/env bash
# Fails if, in the given release binaries, a q4k kernel calls a `core::arch` intrinsic or one of
# its own closures as a function instead of inlining it. A closure that the compiler leaves out
# of line does not inherit the kernel's target features, so every vector operation in it
# becomes a call; and even with the features, an out-of-line call costs a `vzeroupper` and the
# reloading of every vector constant. Both have happened in builds where q4k is a dependency
# (the AVX-512 half decode, the AVX2 weighted encoder, the AVX-512 eight-row dot loop), while
# the crate's own tests passed. Calls to q4k's scalar helpers and through function pointers are
# by design and not reported.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
found=0
for bin in "$@"; do
    calls=$(objdump -d --no-show-raw-insn "$bin" | awk '
        /^[0-9a-f]+ <.*>:$/ { fn = $2 }
        /\tcall/ && fn ~ /q4k4arch/ && ($NF ~ /core_arch/ || $NF ~ /closure/) { print fn " -> " $NF }
        /\tcall/ && $NF ~ /core_arch/ && fn ~ /(closure|call_mut|call_once)/ { print fn " -> " $NF }
    ' | grep -v 'std_detect' | sort | uniq -c || true)
    if [ -n "$calls" ]; then
        echo "$bin: calls that should have been inlined:"
        echo "$calls"
        found=1
    fi
done
[ "$found" -eq 0 ] && echo "no vector operation or kernel closure compiled as a call in: $*"
exit "$found"
