#!/usr/bin/env python3
"""Writes the small seed corpus of each fuzz target into seeds/<target>/ (deterministic)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def block(d, dmin, fill):
    """One 144-byte block: f16 bits d and dmin, then 140 bytes from a small generator."""
    state = fill
    rest = bytearray()
    for _ in range(140):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        rest.append(state >> 24)
    return struct.pack("<HH", d, dmin) + bytes(rest)


ONE, NAN, INF, SUB, MAX, NEG = 0x3C00, 0x7E01, 0x7C00, 0x0001, 0x7BFF, 0xC500
BLOCKS = [block(ONE, ONE, 1), block(NAN, SUB, 2), block(MAX, INF, 3), block(NEG, MAX, 4)]


def layout(in_off, out_off, guard, mode, delta, repeat, pattern):
    """The shared layout; the target decides how many copies of the pattern `repeat` means."""
    return bytes([in_off, out_off, guard, mode, delta & 0xFF, repeat]) + pattern


def write(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# decode: entry point, kernel, store policy, then the layout.
for kernel in range(5):
    write("decode", f"with-kernel-{kernel}", bytes([1, kernel, 0]) + layout(kernel, kernel, 0, 0, 0, 2, BLOCKS[kernel % 4]))
write("decode", "decode-two-blocks", bytes([0, 0, 0]) + layout(3, 1, 4, 0, 0, 1, BLOCKS[0] + BLOCKS[1]))
write("decode", "decoder-streaming", bytes([3, 2, 2]) + layout(5, 3, 0, 0, 0, 9, BLOCKS[2]))
write("decode", "output-short", bytes([2, 0, 1]) + layout(0, 0, 2, 0xFF, -1, 1, BLOCKS[3]))
write("decode", "input-partial", bytes([0, 0, 0]) + layout(1, 0, 0, 0, 0, 1, BLOCKS[0][:143]))
write("decode", "empty", bytes([0, 0, 0]) + layout(0, 0, 0, 0, 0, 1, b""))

# parallel: entry point (top bit: one-thread pool), kernel, store policy, then the layout
# (repeat byte r: 1 + 16 r copies of the pattern).
write("parallel", "many-blocks", bytes([0, 0, 0]) + layout(0, 0, 0, 0, 0, 70, BLOCKS[0] + BLOCKS[1]))
write("parallel", "with-kernel", bytes([1, 2, 0]) + layout(7, 2, 3, 0, 0, 40, BLOCKS[2] + BLOCKS[3]))
write("parallel", "decoder-streaming", bytes([0x82, 3, 2]) + layout(9, 5, 0, 0, 0, 100, BLOCKS[1]))
write("parallel", "output-long", bytes([0, 0, 0]) + layout(0, 0, 0, 0xC0, 3, 4, BLOCKS[3]))

# blocks: input offset, a length for output_len/input_len, then the bytes.
write("blocks", "four-blocks", bytes([3]) + struct.pack("<Q", 4096) + b"".join(BLOCKS))
write("blocks", "partial", bytes([0]) + struct.pack("<Q", 2**64 - 256) + BLOCKS[1][:100])
write("blocks", "one-block", bytes([1]) + struct.pack("<Q", 100) + BLOCKS[2])

# chunked: kernel choice (5 = best), store policy, stream length, stream, then steps
# (operation, chunk length).
stream = b"".join(BLOCKS[:3]) + BLOCKS[3][:50]
def chunked(choice, steps):
    plan = b"".join(bytes([op]) + struct.pack("<H", n) for op, n in steps)
    return bytes([choice, 0]) + struct.pack("<H", len(stream)) + stream + plan
write("chunked", "feed-small", chunked(5, [(0, 100), (0, 1), (0, 143), (0, 300)]))
write("chunked", "feed-into-mixed", chunked(0, [(1, 200), (3, 77), (5, 144), (7, 10), (0, 150)]))
write("chunked", "short-output", chunked(2, [(1, 100), (0x1D, 100), (0x25, 288)]))
write("chunked", "unavailable-kernel", chunked(4, [(1, 144), (0, 144)]))

# dot: entry point (0 matvec, 1 parallel, 2 dot, 3 quantize; top bit: thousands of rows),
# kernel, activation blocks, rows (u16 with the top bit), weight-length delta, row delta,
# activation pattern length / 8, the activation pattern, then the weight pattern.
ACT = bytes(range(256)) * 2
write("dot", "matvec-small", bytes([0, 2, 3, 4, 0, 0, 40]) + ACT[:320] + BLOCKS[0] + BLOCKS[1])
write("dot", "dot-one-row", bytes([2, 3, 2, 1, 0, 0, 37]) + ACT[:296] + BLOCKS[2])
write("dot", "parallel-many-rows", bytes([0x81, 0, 2]) + struct.pack("<H", 4000) + bytes([0, 0, 8]) + ACT[:64] + BLOCKS[3])
write("dot", "rows-off-by-one", bytes([0, 1, 1, 3, 0, 0xC3, 2]) + ACT[:16] + BLOCKS[0])
write("dot", "quantize", bytes([3, 1, 0]) + struct.pack("<4f", 0.5, -2.0, 1e-30, 3.0))

# dot_f32: entry (0 dot, 1 parallel, 2 matvec), kernel choice (even: byte after it), rows,
# blocks per row, three length deltas (4..7 = none), then the bytes the data repeats.
write("dot_f32", "dot-two-blocks", bytes([0, 1, 1, 2, 4, 4, 4]) + BLOCKS[0] + BLOCKS[1])
write("dot_f32", "matvec-kernels", bytes([2, 0, 3, 3, 1, 5, 6, 7]) + BLOCKS[2] + BLOCKS[3])
write("dot_f32", "parallel-short-weights", bytes([1, 1, 5, 1, 0, 4, 4]) + BLOCKS[1])
write("dot_f32", "activations-off", bytes([2, 1, 2, 1, 4, 0, 4]) + BLOCKS[0])

# encode: element type (0 f32, 1 f16, 2 bf16), kernel, output length delta, then the values.
def f32s(values):
    return struct.pack("<%df" % len(values), *values)
ramp = [((i * 37) % 101 - 50) * 0.01 for i in range(512)]
write("encode", "f32-two-blocks", bytes([0, 3, 0]) + f32s(ramp))
write("encode", "f32-constant-and-zero", bytes([0, 2, 0]) + f32s([0.5] * 256 + [0.0] * 256))
write("encode", "f32-nan", bytes([0, 1, 0]) + f32s(ramp[:300] + [float("nan")] + ramp[301:]))
write("encode", "f32-short-output", bytes([0, 0, 0xFF]) + f32s(ramp[:256]))
write("encode", "f16-one-block", bytes([1, 3, 0]) + struct.pack("<256H", *[(i * 97) % 0x7C00 for i in range(256)]))
write("encode", "bf16-one-block", bytes([2, 2, 0]) + struct.pack("<256H", *[(i * 131) % 0x7F80 for i in range(256)]))

# gguf: the whole case is the file; the seeds are the test files that llama.cpp's gguf writer
# produced (tests/vectors/gguf/generate.py).
VECTORS = os.path.join(HERE, "..", "tests", "vectors", "gguf")
for name in ["v3-metadata", "v2-align-1", "v3-align-8", "v2-align-256"]:
    with open(os.path.join(VECTORS, name + ".gguf"), "rb") as f:
        write("gguf", name, f.read())
