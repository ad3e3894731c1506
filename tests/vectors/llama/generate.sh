#!/bin/sh
# Regenerates the llama.cpp reference vectors in this directory (see README.md).
#
#   tests/vectors/llama/generate.sh
#
# Downloads the llama-cpp-python sdist (which vendors llama.cpp) with pip into a temporary
# directory, or uses the llama.cpp source tree named by LLAMA_CPP_DIR (the directory holding
# ggml/, or the unpacked sdist). Compiles llama.cpp's ggml-quants.c and ggml-cpu/quants.c
# unchanged, with shim.c for the few ggml symbols they call, and runs refgen.c.
#
# Needs: sh, gcc, pip (only without LLAMA_CPP_DIR), tar, sha256sum.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
CC=${CC:-gcc}

# The C as written: every float operation rounded on its own (no FMA contraction, no
# fast-math, no excess precision), and the generic code (no -march), as the reference.
CFLAGS="-O2 -std=gnu11 -ffp-contract=off -fno-fast-math -fexcess-precision=standard -DNDEBUG"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

if [ -n "${LLAMA_CPP_DIR:-}" ]; then
    SRC=$LLAMA_CPP_DIR
    [ -d "$SRC/vendor/llama.cpp/ggml" ] && SRC=$SRC/vendor/llama.cpp
else
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python --dest "$WORK" \
        "llama-cpp-python==$VERSION"
    echo "$SHA256  $WORK/llama_cpp_python-$VERSION.tar.gz" | sha256sum -c -
    tar -xzf "$WORK/llama_cpp_python-$VERSION.tar.gz" -C "$WORK"
    SRC=$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp
fi
G=$SRC/ggml
if [ ! -f "$G/src/ggml-quants.c" ] || [ ! -f "$G/src/ggml-cpu/quants.c" ]; then
    echo "no llama.cpp source at $SRC (expected ggml/src/ggml-quants.c)" >&2
    exit 1
fi

INCLUDES="-I$G/include -I$G/src -I$G/src/ggml-cpu"
"$CC" --version | head -n 1
for f in "$G/src/ggml-quants.c" "$G/src/ggml-cpu/quants.c" "$HERE/shim.c" "$HERE/refgen.c"; do
    obj=$WORK/$(basename "$(dirname "$f")")-$(basename "$f" .c).o
    # shellcheck disable=SC2086
    "$CC" $CFLAGS $INCLUDES -c "$f" -o "$obj"
done
"$CC" -o "$WORK/refgen" "$WORK"/*.o -lm
"$WORK/refgen" "$HERE"
