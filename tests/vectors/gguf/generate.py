#!/usr/bin/env python3
"""Writes small GGUF files with llama.cpp's own writer (the `gguf` Python package), for the
reader's tests, and a manifest of each file read back by the same package's reader.

Written with gguf 0.19.0 and numpy 2.4.6:

    pip install gguf==0.19.0 numpy
    python3 tests/vectors/gguf/generate.py

Outputs, next to this script:

  v3-metadata.gguf    GGUF v3, default alignment (32): a metadata entry of every value type
                      (arrays of every type, nested arrays, empty strings, non-ASCII text) and
                      Q4_K, F32, F16 and Q6_K tensors
  v2-align-1.gguf     GGUF v2, general.alignment = 1 (no padding at all)
  v3-align-8.gguf     GGUF v3, general.alignment = 8
  v2-align-256.gguf   GGUF v2, general.alignment = 256
  *.txt               per file, what `gguf.GGUFReader` reads back: version, alignment, data
                      offset, metadata count, and per tensor its name, type id, dimensions
                      (innermost first), absolute data offset and size in bytes

Tensor contents, which the tests rebuild on their own:
  Q4_K  real blocks, taken in order from ../q4k_blocks.bin (blocks `first..first + n`; the
        decoded values are ../q4k_expected.f32 at the same blocks)
  F32   value i (in storage order) is i * 0.25 - 2
  F16   value i is (i - 3) * 0.5
  Q6_K  byte i is (i * 37 + 11) % 256 (any bytes: the reader only describes Q6_K)

The gguf writer only writes version 3. A little-endian v2 file has exactly the layout of a v3
file (v3 added big-endian files), so the v2 files are written as v3 and their version field is
set to 2; `gguf.GGUFReader` then reads them back as v2 for the manifest.

Deterministic: no randomness, so rerunning the script reproduces the committed files.
"""

from importlib.metadata import version
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

HERE = Path(__file__).resolve().parent
BLOCKS = (HERE.parent / "q4k_blocks.bin").read_bytes()
Q4K_BYTES = 144


def q4k(writer, name, rows, row_blocks, first):
    """A Q4_K tensor of `rows` rows of `row_blocks` blocks, blocks `first..` of q4k_blocks.bin."""
    n = rows * row_blocks
    raw = np.frombuffer(BLOCKS[first * Q4K_BYTES:(first + n) * Q4K_BYTES], dtype=np.uint8)
    assert raw.size == n * Q4K_BYTES
    writer.add_tensor(name, raw.reshape(rows, row_blocks * Q4K_BYTES), raw_dtype=T.Q4_K)


def f32(writer, name, shape):
    n = int(np.prod(shape))
    values = (np.arange(n, dtype=np.float32) * np.float32(0.25) - np.float32(2)).reshape(shape)
    writer.add_tensor(name, values)


def f16(writer, name, shape):
    n = int(np.prod(shape))
    values = ((np.arange(n, dtype=np.float32) - 3) * 0.5).astype(np.float16).reshape(shape)
    writer.add_tensor(name, values)


def q6k(writer, name, rows, row_blocks):
    n = rows * row_blocks * 210
    raw = ((np.arange(n) * 37 + 11) % 256).astype(np.uint8)
    writer.add_tensor(name, raw.reshape(rows, row_blocks * 210), raw_dtype=T.Q6_K)


def metadata(writer):
    """One entry of every value type, arrays of every type, nested arrays and empty strings."""
    kv = writer.add_key_value
    writer.add_name("q4k test model")
    kv("test.u8", 200, V.UINT8)
    kv("test.i8", -100, V.INT8)
    kv("test.u16", 60000, V.UINT16)
    kv("test.i16", -30000, V.INT16)
    kv("test.u32", 4_000_000_000, V.UINT32)
    kv("test.i32", -2_000_000_000, V.INT32)
    kv("test.f32", 0.1, V.FLOAT32)
    kv("test.bool.true", True, V.BOOL)
    kv("test.bool.false", False, V.BOOL)
    kv("test.string", "Grüße, 世界", V.STRING)
    kv("test.string.empty", "", V.STRING)
    kv("test.u64", 2**63 + 5, V.UINT64)
    kv("test.i64", -(2**62) - 3, V.INT64)
    kv("test.f64", 0.1, V.FLOAT64)
    kv("", "the empty key", V.STRING)
    kv("test.array.u8", [0, 1, 255], V.ARRAY, V.UINT8)
    kv("test.array.i8", [-128, 127], V.ARRAY, V.INT8)
    kv("test.array.u16", [65535, 1], V.ARRAY, V.UINT16)
    kv("test.array.i16", [-32768], V.ARRAY, V.INT16)
    kv("test.array.u32", [1, 2, 3, 4_294_967_295], V.ARRAY, V.UINT32)
    kv("test.array.i32", [-1, 0, 7], V.ARRAY, V.INT32)
    kv("test.array.f32", [0.5, -2.0, 1e-3], V.ARRAY, V.FLOAT32)
    kv("test.array.bool", [True, False, True], V.ARRAY, V.BOOL)
    kv("test.array.string", ["a", "", "ünï"], V.ARRAY, V.STRING)
    kv("test.array.u64", [2**64 - 1, 0], V.ARRAY, V.UINT64)
    kv("test.array.i64", [-(2**63)], V.ARRAY, V.INT64)
    kv("test.array.f64", [1e300, -0.0], V.ARRAY, V.FLOAT64)
    kv("test.array.nested", [[1, 2], [3]], V.ARRAY)
    kv("test.array.nested_strings", [["x"], ["", "yz"]], V.ARRAY)
    kv("test.array.deep", [[[5, 6]], [[7]]], V.ARRAY)


def write(name, version, alignment, build):
    path = HERE / name
    writer = gguf.GGUFWriter(path, "q4ktest")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    build(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if version != 3:
        raw = bytearray(path.read_bytes())
        raw[4:8] = version.to_bytes(4, "little")
        path.write_bytes(bytes(raw))
    manifest(path)


def manifest(path):
    reader = gguf.GGUFReader(path)
    lines = [
        f"version {int(reader.fields['GGUF.version'].parts[-1][0])}",
        f"alignment {reader.alignment}",
        f"data_offset {reader.data_offset}",
        f"metadata {len(reader.fields) - 3}",  # less the three header fields
        f"tensors {len(reader.tensors)}",
    ]
    for t in reader.tensors:
        dims = " ".join(str(int(d)) for d in t.shape)
        lines.append(
            f"tensor {t.name} {int(t.tensor_type)} {len(t.shape)} {dims} {t.data_offset} {t.n_bytes}"
        )
    path.with_suffix(".txt").write_text("\n".join(lines) + "\n")


def v3_metadata(w):
    metadata(w)
    q4k(w, "blk.0.ffn_up.weight", rows=2, row_blocks=2, first=0)
    f32(w, "blk.0.attn_norm.weight", (3, 7))
    q4k(w, "blk.0.attn_q.weight", rows=3, row_blocks=1, first=4)
    f16(w, "token_embd.weight", (5,))
    q6k(w, "output.weight", rows=2, row_blocks=1)
    q4k(w, "blk.1.ffn_down.weight", rows=1, row_blocks=1, first=57)


def small(w):
    w.add_name("aligned")
    f32(w, "norm", (3,))
    q4k(w, "q4k.a", rows=2, row_blocks=1, first=0)
    q6k(w, "q6k", rows=1, row_blocks=1)
    q4k(w, "q4k.b", rows=1, row_blocks=2, first=2)


def main():
    print(f"gguf {version('gguf')}, numpy {np.__version__}")
    write("v3-metadata.gguf", 3, None, v3_metadata)
    write("v2-align-1.gguf", 2, 1, small)
    write("v3-align-8.gguf", 3, 8, small)
    write("v2-align-256.gguf", 2, 256, small)


if __name__ == "__main__":
    main()
