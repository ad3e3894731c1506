#!/usr/bin/env python3
"""Writes the Q4_K reference vectors, decoded by the `gguf` Python library of llama.cpp.

Outputs, next to this script (raw little-endian data, no header):

  q4k_blocks.bin    N * 144 bytes: N Q4_K blocks, back to back
  q4k_expected.f32  N * 256 * 4 bytes: the f32 bits `gguf` decodes them to
  README.md         what the files hold, block by block range

Deterministic: a fixed seed and Python's own `random` (whose byte stream is stable across
Python versions), so rerunning the script reproduces the committed files exactly.

    python3 tests/vectors/generate.py
"""

import math
import random
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import gguf
from gguf.quants import dequantize

SEED = 0x5154_4B34  # "Q4K4"
BLOCK_BYTES = 144
BLOCK_VALUES = 256
HERE = Path(__file__).resolve().parent

rng = random.Random(SEED)


def f16_bits(x: float) -> int:
    return struct.unpack("<H", struct.pack("<e", x))[0]


def realistic_f16(lo: float, hi: float) -> int:
    """A positive f16 drawn log-uniformly from [lo, hi]."""
    return f16_bits(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def rand_bytes(n: int) -> bytes:
    return rng.randbytes(n)


def block(d: int, dmin: int, scales: bytes, qs: bytes) -> bytes:
    assert 0 <= d <= 0xFFFF and 0 <= dmin <= 0xFFFF
    assert len(scales) == 12 and len(qs) == 128
    raw = struct.pack("<HH", d, dmin) + scales + qs
    assert len(raw) == BLOCK_BYTES
    return raw


def realistic_d() -> int:
    return realistic_f16(1e-3, 1e-1)


# f16 bit patterns for the edge cases of `d` and `dmin`.
F16_EDGES = [
    ("+0", 0x0000),
    ("-0", 0x8000),
    ("smallest subnormal", 0x0001),
    ("largest subnormal", 0x03FF),
    ("negative subnormal", 0x8155),
    ("largest finite 65504", 0x7BFF),
    ("-65504", 0xFBFF),
    ("negative realistic", 0x8000 | f16_bits(0.0123)),
    ("+inf", 0x7C00),
    ("-inf", 0xFC00),
    ("quiet NaN", 0x7E00),
    ("signalling NaN", 0x7C01),
    ("negative NaN, all payload bits", 0xFFFF),
]

categories: list[tuple[str, list[bytes]]] = []


def category(name: str, blocks: list[bytes]) -> None:
    categories.append((name, blocks))


# 1. Realistic blocks: small positive d and dmin, random 6-bit scales/mins and quants.
category(
    "realistic: d, dmin log-uniform in [1e-3, 1e-1] (f16), random scales and quants",
    [block(realistic_d(), realistic_d(), rand_bytes(12), rand_bytes(128)) for _ in range(6)],
)

# 2. Random bit patterns in every field (d/dmin may be anything, NaN and inf included).
category(
    "random bits in all 144 bytes",
    [rand_bytes(BLOCK_BYTES) for _ in range(6)],
)

# 3. Edge values of d (dmin realistic), then of dmin (d realistic), then both at once.
category(
    "edge d (in F16_EDGES order), realistic dmin, random scales and quants",
    [block(bits, realistic_d(), rand_bytes(12), rand_bytes(128)) for _, bits in F16_EDGES],
)
category(
    "edge dmin (in F16_EDGES order), realistic d, random scales and quants",
    [block(realistic_d(), bits, rand_bytes(12), rand_bytes(128)) for _, bits in F16_EDGES],
)
category(
    "both edge: (+0,+0) (-0,-0) (65504,65504) (+inf,-inf) (NaN,+0) (-65504,subnormal) (-1.5,+0)",
    [
        block(0x0000, 0x0000, rand_bytes(12), rand_bytes(128)),
        block(0x8000, 0x8000, rand_bytes(12), rand_bytes(128)),
        block(0x7BFF, 0x7BFF, b"\xff" * 12, b"\xff" * 128),
        block(0x7C00, 0xFC00, rand_bytes(12), rand_bytes(128)),
        block(0x7E00, 0x0000, rand_bytes(12), rand_bytes(128)),
        block(0xFBFF, 0x0001, rand_bytes(12), rand_bytes(128)),
        block(0xBE00, 0x0000, rand_bytes(12), rand_bytes(128)),
    ],
)

# 4. Scale bytes: all twelve the same, then mixed per byte; realistic d/dmin, random quants.
SCALE_PATTERNS = [0x00, 0xFF, 0x3F, 0xC0]
mixed = [
    bytes(rng.choice(SCALE_PATTERNS) for _ in range(12)),
    bytes(rng.choice(SCALE_PATTERNS) for _ in range(12)),
    bytes([0x00, 0xFF, 0x3F, 0xC0] * 3),
    bytes([0xC0, 0x3F] * 6),
]
category(
    "scales all 0x00, all 0xFF, all 0x3F, all 0xC0, then 4 mixes of those bytes",
    [
        block(realistic_d(), realistic_d(), bytes([b]) * 12, rand_bytes(128))
        for b in SCALE_PATTERNS
    ]
    + [block(realistic_d(), realistic_d(), s, rand_bytes(128)) for s in mixed],
)

# 5. Quant bytes all the same; realistic d/dmin, random scales.
QUANT_PATTERNS = [0x00, 0xFF, 0x0F, 0xF0]
category(
    "quants all 0x00, all 0xFF, all 0x0F, all 0xF0",
    [
        block(realistic_d(), realistic_d(), rand_bytes(12), bytes([b]) * 128)
        for b in QUANT_PATTERNS
    ],
)

# 6. Layout probe: every sub-block has its own scale and min, quants count 0..15 along each
#    32-value run, so a wrong nibble order or scale unpacking changes many values.
probe_scales = bytes([0x41, 0x82, 0xC3, 0x04, 0x45, 0x86, 0xC7, 0x08, 0x19, 0x2A, 0x3B, 0x4C])
probe_qs = bytes(((l % 16) | ((15 - l % 16) << 4)) for _ in range(4) for l in range(32))
category(
    "layout probe: distinct scales/mins per sub-block, ramp quants, d=1, dmin=0.5",
    [block(f16_bits(1.0), f16_bits(0.5), probe_scales, probe_qs)],
)


def main() -> None:
    raw = b"".join(b for _, blocks in categories for b in blocks)
    n = len(raw) // BLOCK_BYTES
    assert len(raw) == n * BLOCK_BYTES

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        values = dequantize(np.frombuffer(raw, dtype=np.uint8), gguf.GGMLQuantizationType.Q4_K)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    assert values.shape == (n * BLOCK_VALUES,), values.shape

    (HERE / "q4k_blocks.bin").write_bytes(raw)
    (HERE / "q4k_expected.f32").write_bytes(values.astype("<f4").tobytes())

    version = getattr(gguf, "__version__", None)
    if version is None:
        from importlib.metadata import version as pkg_version

        version = pkg_version("gguf")

    rows = []
    first = 0
    for name, blocks in categories:
        rows.append(f"| {first}..{first + len(blocks)} | {len(blocks)} | {name} |")
        first += len(blocks)
    edges = ", ".join(f"{name} `{bits:#06x}`" for name, bits in F16_EDGES)

    readme = f"""# Q4_K reference vectors

Decoded by `gguf` {version} (llama.cpp's Python library), numpy {np.__version__}, with
`gguf.quants.dequantize(np.frombuffer(raw, np.uint8), gguf.GGMLQuantizationType.Q4_K)`.

| file | size | contents |
|------|------|----------|
| `q4k_blocks.bin` | {len(raw)} bytes | {n} Q4_K blocks of 144 bytes, back to back |
| `q4k_expected.f32` | {n * BLOCK_VALUES * 4} bytes | {n * BLOCK_VALUES} `f32`, little-endian bits, 256 per block |

Raw data, no header, so `include_bytes!` and a `chunks_exact` are all a reader needs. Value
`256 * b + i` of `q4k_expected.f32` is value `i` of block `b`. Where a block's `d` or `dmin` is
an f16 NaN or infinity, the expected values hold NaN (sign and payload as numpy produced them;
compare NaN-ness only there) or infinity; everywhere else compare the bits exactly.

| blocks | count | contents |
|--------|-------|----------|
{chr(10).join(rows)}

f16 edge values (d or dmin): {edges}.

Regenerate (deterministic, seed `{SEED:#x}`; the output must not change):

    pip install gguf numpy
    python3 tests/vectors/generate.py

The file names and format are stable: other code embeds these two files.
"""
    (HERE / "README.md").write_text(readme)

    print(f"{n} blocks, {len(raw)} + {n * BLOCK_VALUES * 4} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
