#!/bin/sh
# Downloads the llama-cpp-python sdist (which vendors llama.cpp) with pip, checks its hash,
# unpacks it under target/llama-src next to this script, and prints the llama.cpp directory
# to pass as LLAMA_CPP_DIR:
#
#   export LLAMA_CPP_DIR=$(benches/llama/fetch.sh)
#
# (build.rs also finds that directory by itself when LLAMA_CPP_DIR is not set.)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
DEST=$HERE/target/llama-src
SRC=$DEST/llama_cpp_python-$VERSION/vendor/llama.cpp

if [ ! -f "$SRC/ggml/src/ggml-quants.c" ]; then
    mkdir -p "$DEST"
    # pip prepares the sdist's metadata, which installs its build requirements into a
    # temporary environment: about a minute.
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python --dest "$DEST" \
        "llama-cpp-python==$VERSION" >&2
    echo "$SHA256  $DEST/llama_cpp_python-$VERSION.tar.gz" | sha256sum -c - >&2
    tar -xzf "$DEST/llama_cpp_python-$VERSION.tar.gz" -C "$DEST"
fi
echo "$SRC"
